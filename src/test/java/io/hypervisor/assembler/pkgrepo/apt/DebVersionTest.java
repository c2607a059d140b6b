package io.hypervisor.assembler.pkgrepo.apt;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Debian version ordering, from the cases of dpkg's and apt's own test suites
 * (t-version.c, compareversion_test.cc) plus the versions this project meets. DebVersionIT runs
 * the same table through {@code dpkg --compare-versions}.
 */
class DebVersionTest {
  static List<Object[]> table() {
    return List.of(
        new Object[] {"1.0", "1.0", 0}, new Object[] {"1.0", "1.1", -1}, new Object[] {"10", "9", 1},
        new Object[] {"0", "00", 0}, new Object[] {"1.002", "1.2", 0}, new Object[] {"a", "b", -1},
        new Object[] {"1.0~rc1", "1.0", -1}, new Object[] {"1.0~rc1", "1.0~rc2", -1}, new Object[] {"1.0~~", "1.0~", -1},
        new Object[] {"1.0~", "1.0", -1}, new Object[] {"1.0", "1.0+b1", -1}, new Object[] {"1.0+dfsg", "1.0", 1},
        new Object[] {"1.0-1", "1.0-2", -1}, new Object[] {"1:1.0", "2.0", 1}, new Object[] {"0:1.0", "1.0", 0},
        new Object[] {"1.0a", "1.0", 1}, new Object[] {"1.0.1", "1.0a", 1}, new Object[] {"7.6p2-4", "7.6-0", 1},
        new Object[] {"1.0.3-3", "1.0-1", 1}, new Object[] {"1.3", "1.2.2-2", 1}, new Object[] {"1.3", "1.2.2", 1},
        new Object[] {"0-pre", "0-pre", 0}, new Object[] {"0-pre", "0-pree", -1}, new Object[] {"1.1.6r2-2", "1.1.6r-1", 1},
        new Object[] {"2.6b2-1", "2.6b-2", 1}, new Object[] {"98.1p5-1", "98.1-pre2-b6-2", -1},
        new Object[] {"0.4a6-2", "0.4-1", 1}, new Object[] {"1:3.0.5-2", "1:3.0.5.1", -1},
        new Object[] {"4.4.3-2", "4.4.3-2", 0}, new Object[] {"1:2ca2-2", "1:2ca2-2", 0},
        new Object[] {"0.5a2-2", "0.5a1-2", 1}, new Object[] {"0.4-11", "0.4-2", 1}, new Object[] {"2.3.11-3", "2.3.12-2", -1},
        new Object[] {"1.34.2-1.1", "1.34.10-1.1", -1}, new Object[] {"1.34.2-1.1", "1.34.2-150500.1.1", -1},
        new Object[] {"2.2.6-1~debian.12~bookworm", "2.2.6-1", -1},
        new Object[] {"1.6.20~ds1-1+deb12u1", "1.6.20~ds1-1", 1}, new Object[] {"1.6.20~ds1-1", "1.6.20-1", -1},
        new Object[] {"2.36-9+deb12u14", "2.36-9+deb12u9", 1}, new Object[] {"1.1.5+ds1-1+deb12u1", "1.1.5+ds1-1", 1});
  }

  @ParameterizedTest(name = "{0} vs {1} = {2}")
  @MethodSource("table")
  void comparesLikeDpkg(String a, String b, int expected) {
    assertEquals(expected, Integer.signum(DebVersion.compare(a, b)));
    assertEquals(-expected, Integer.signum(DebVersion.compare(b, a)));
  }
}
