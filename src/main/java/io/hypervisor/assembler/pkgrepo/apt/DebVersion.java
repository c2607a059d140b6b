package io.hypervisor.assembler.pkgrepo.apt;

import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.VersionScheme;

/**
 * A Debian version {@code [epoch:]upstream[-revision]} compared exactly as dpkg does
 * (lib/dpkg/version.c verrevcmp): non-digit runs by character order where '~' sorts before
 * everything, even the end of the string, and letters before other characters; digit runs
 * numerically.
 */
public record DebVersion(int epoch, String upstream, String revision) implements Comparable<DebVersion> {
  public static DebVersion parse(String v) {
    String s = v.trim();
    int epoch = 0;
    int colon = s.indexOf(':');
    if (colon > 0 && s.substring(0, colon).matches("\\d+")) {
      // dpkg refuses epochs above INT_MAX; here they sort last instead of failing a comparison.
      String e = s.substring(0, colon).replaceFirst("^0+(?=\\d)", "");
      epoch = e.length() > 9 ? Integer.MAX_VALUE : Integer.parseInt(e);
      s = s.substring(colon + 1);
    }
    int dash = s.lastIndexOf('-');
    return dash > 0 ? new DebVersion(epoch, s.substring(0, dash), s.substring(dash + 1))
        : new DebVersion(epoch, s, "");
  }

  public static int compare(String a, String b) {
    return parse(a).compareTo(parse(b));
  }

  /** dpkg's ordering, for the shared resolver. */
  public static final VersionScheme SCHEME = new VersionScheme() {
    @Override
    public int compare(String a, String b) {
      return DebVersion.compare(a, b);
    }

    @Override
    public boolean unversionedProvideSatisfiesVersioned() {
      return false; // Debian Policy 7.5: an unversioned Provides never satisfies a versioned dependency
    }

    @Override
    public String format(Capability c) {
      return c.op() == null ? c.name() : c.name() + " (" + c.op().deb + " " + c.version() + ")";
    }
  };

  @Override
  public int compareTo(DebVersion o) {
    if (epoch != o.epoch) {
      return Integer.compare(epoch, o.epoch);
    }
    int c = verrevcmp(upstream, o.upstream);
    return c != 0 ? c : verrevcmp(revision, o.revision);
  }

  // dpkg uses the C locale's isdigit/isalpha: ASCII only.
  private static boolean isDigit(int c) {
    return c >= '0' && c <= '9';
  }

  private static boolean isLetter(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  private static int order(int c) {
    if (isDigit(c)) {
      return 0;
    }
    if (isLetter(c)) {
      return c;
    }
    if (c == '~') {
      return -1;
    }
    return c == 0 ? 0 : c + 256;
  }

  static int verrevcmp(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() || j < b.length()) {
      int firstDiff = 0;
      while ((i < a.length() && !isDigit(a.charAt(i))) || (j < b.length() && !isDigit(b.charAt(j)))) {
        int ac = order(i < a.length() ? a.charAt(i) : 0);
        int bc = order(j < b.length() ? b.charAt(j) : 0);
        if (ac != bc) {
          return Integer.signum(ac - bc);
        }
        i++;
        j++;
      }
      while (i < a.length() && a.charAt(i) == '0') {
        i++;
      }
      while (j < b.length() && b.charAt(j) == '0') {
        j++;
      }
      while (i < a.length() && isDigit(a.charAt(i)) && j < b.length() && isDigit(b.charAt(j))) {
        if (firstDiff == 0) {
          firstDiff = a.charAt(i) - b.charAt(j);
        }
        i++;
        j++;
      }
      if (i < a.length() && isDigit(a.charAt(i))) {
        return 1;
      }
      if (j < b.length() && isDigit(b.charAt(j))) {
        return -1;
      }
      if (firstDiff != 0) {
        return Integer.signum(firstDiff);
      }
    }
    return 0;
  }

  @Override
  public String toString() {
    return (epoch > 0 ? epoch + ":" : "") + upstream + (revision.isEmpty() ? "" : "-" + revision);
  }
}
