package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.VersionScheme;

/**
 * An rpm {@code [epoch:]version[-release]} compared as rpm does: epochs numerically (missing is
 * 0), then version and release with rpmvercmp (lib/rpmvercmp.c) — alphanumeric segments, digits
 * newer than letters, {@code ~} older than anything and {@code ^} newer than the end of the
 * string but older than any further segment. A missing release matches any release when a
 * dependency is checked (rpmdsCompare), which is why "Requires: foo >= 1.2" accepts "1.2-3".
 */
public record RpmVersion(long epoch, String version, String release) implements Comparable<RpmVersion> {
  public static RpmVersion parse(String evr) {
    String s = evr.trim();
    long epoch = 0;
    int colon = s.indexOf(':');
    if (colon > 0 && s.substring(0, colon).chars().allMatch(Character::isDigit)) {
      String e = s.substring(0, colon).replaceFirst("^0+(?=\\d)", "");
      epoch = e.length() > 18 ? Long.MAX_VALUE : Long.parseLong(e); // an absurd epoch sorts last, never throws
      s = s.substring(colon + 1);
    }
    int dash = s.lastIndexOf('-');
    return dash > 0 ? new RpmVersion(epoch, s.substring(0, dash), s.substring(dash + 1))
        : new RpmVersion(epoch, s, null);
  }

  /** Full comparison; a missing release sorts before any release (it is only "equal" in dependency checks). */
  @Override
  public int compareTo(RpmVersion o) {
    int c = compareIgnoringMissingRelease(o);
    if (c != 0 || (release == null) == (o.release == null)) {
      return c;
    }
    return release == null ? -1 : 1;
  }

  private int compareIgnoringMissingRelease(RpmVersion o) {
    if (epoch != o.epoch) {
      return Long.compare(epoch, o.epoch);
    }
    int c = rpmvercmp(version, o.version);
    if (c != 0 || release == null || o.release == null) {
      return c;
    }
    return rpmvercmp(release, o.release);
  }

  /** rpm's ordering, for the shared resolver: dependency semantics (a missing release matches any). */
  public static final VersionScheme SCHEME = new VersionScheme() {
    @Override
    public int compare(String a, String b) {
      return parse(a).compareIgnoringMissingRelease(parse(b));
    }

    @Override
    public boolean unversionedProvideSatisfiesVersioned() {
      return true; // rpmdsCompare: a Provides without version matches any version range
    }

    @Override
    public String format(Capability c) {
      return c.op() == null ? c.name() : c.name() + " " + c.op().rpm + " " + c.version();
    }
  };

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static boolean isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  /** lib/rpmvercmp.c, segment by segment. */
  public static int rpmvercmp(String a, String b) {
    if (a.equals(b)) {
      return 0;
    }
    int i = 0;
    int j = 0;
    int n = a.length();
    int m = b.length();
    while (i < n || j < m) {
      while (i < n && !isDigit(a.charAt(i)) && !isAlpha(a.charAt(i)) && a.charAt(i) != '~' && a.charAt(i) != '^') {
        i++;
      }
      while (j < m && !isDigit(b.charAt(j)) && !isAlpha(b.charAt(j)) && b.charAt(j) != '~' && b.charAt(j) != '^') {
        j++;
      }
      char ca = i < n ? a.charAt(i) : 0;
      char cb = j < m ? b.charAt(j) : 0;
      if (ca == '~' || cb == '~') {
        if (ca != '~') {
          return 1;
        }
        if (cb != '~') {
          return -1;
        }
        i++;
        j++;
        continue;
      }
      if (ca == '^' || cb == '^') {
        if (i >= n) {
          return -1;
        }
        if (j >= m) {
          return 1;
        }
        if (ca != '^') {
          return 1;
        }
        if (cb != '^') {
          return -1;
        }
        i++;
        j++;
        continue;
      }
      if (i >= n || j >= m) {
        break;
      }
      int si = i;
      int sj = j;
      boolean num = isDigit(a.charAt(i));
      if (num) {
        while (i < n && isDigit(a.charAt(i))) {
          i++;
        }
        while (j < m && isDigit(b.charAt(j))) {
          j++;
        }
      } else {
        while (i < n && isAlpha(a.charAt(i))) {
          i++;
        }
        while (j < m && isAlpha(b.charAt(j))) {
          j++;
        }
      }
      if (sj == j) {
        return num ? 1 : -1; // numeric segments are newer than alpha ones
      }
      String sa = a.substring(si, i);
      String sb = b.substring(sj, j);
      if (num) {
        sa = stripZeros(sa);
        sb = stripZeros(sb);
        if (sa.length() != sb.length()) {
          return sa.length() > sb.length() ? 1 : -1;
        }
      }
      int c = sa.compareTo(sb);
      if (c != 0) {
        return c < 0 ? -1 : 1;
      }
    }
    if (i >= n && j >= m) {
      return 0;
    }
    return i >= n ? -1 : 1;
  }

  private static String stripZeros(String s) {
    int k = 0;
    while (k < s.length() && s.charAt(k) == '0') {
      k++;
    }
    return s.substring(k);
  }

  @Override
  public String toString() {
    return (epoch != 0 ? epoch + ":" : "") + version + (release == null ? "" : "-" + release);
  }
}
