package io.hypervisor.assembler.plan;

/** Ordering of dotted numeric versions such as 1.34.2 or 2.2 (missing parts count as 0). */
public final class Versions {
  private Versions() {}

  public static int compare(String a, String b) {
    String[] x = a.replaceFirst("^v", "").split("[.-]");
    String[] y = b.replaceFirst("^v", "").split("[.-]");
    for (int i = 0; i < Math.max(x.length, y.length); i++) {
      long p = i < x.length ? number(x[i]) : 0;
      long q = i < y.length ? number(y[i]) : 0;
      if (p != q) {
        return Long.compare(p, q);
      }
    }
    return 0;
  }

  /** {@code major.minor} of a version. */
  public static String line(String version) {
    String[] p = version.replaceFirst("^v", "").split("\\.");
    return p.length < 2 ? p[0] : p[0] + "." + p[1];
  }

  private static long number(String s) {
    int end = 0;
    while (end < s.length() && Character.isDigit(s.charAt(end))) {
      end++;
    }
    return end == 0 ? 0 : Long.parseLong(s.substring(0, end));
  }
}
