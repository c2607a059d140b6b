package io.hypervisor.assembler.pkgrepo.rpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * rpm version ordering, from the cases of rpm's own test suite (tests/rpmvercmp.at) plus the
 * versions this project meets. RpmVersionIT runs the same table through rpm itself.
 */
class RpmVersionTest {
  /** "a b expected" per line, as rpmvercmp.at writes its RPMVERCMP(a, b, expected) cases. */
  static final String TABLE = """
      1.0 1.0 0
      1.0 2.0 -1
      2.0 1.0 1
      2.0.1 2.0.1 0
      2.0 2.0.1 -1
      2.0.1 2.0 1
      2.0.1a 2.0.1a 0
      2.0.1a 2.0.1 1
      2.0.1 2.0.1a -1
      5.5p1 5.5p1 0
      5.5p1 5.5p2 -1
      5.5p2 5.5p1 1
      5.5p10 5.5p10 0
      5.5p1 5.5p10 -1
      5.5p10 5.5p1 1
      10xyz 10.1xyz -1
      10.1xyz 10xyz 1
      xyz10 xyz10 0
      xyz10 xyz10.1 -1
      xyz10.1 xyz10 1
      xyz.4 xyz.4 0
      xyz.4 8 -1
      8 xyz.4 1
      xyz.4 2 -1
      2 xyz.4 1
      5.5p2 5.6p1 -1
      5.6p1 5.5p2 1
      5.6p1 6.5p1 -1
      6.5p1 5.6p1 1
      6.0.rc1 6.0 1
      6.0 6.0.rc1 -1
      10b2 10a1 1
      10a2 10b2 -1
      1.0aa 1.0aa 0
      1.0a 1.0aa -1
      1.0aa 1.0a 1
      10.0001 10.0001 0
      10.0001 10.1 0
      10.1 10.0001 0
      10.0001 10.0039 -1
      10.0039 10.0001 1
      4.999.9 5.0 -1
      5.0 4.999.9 1
      20101121 20101121 0
      20101121 20101122 -1
      20101122 20101121 1
      2_0 2_0 0
      2.0 2_0 0
      2_0 2.0 0
      a a 0
      a+ a+ 0
      a+ a_ 0
      a_ a+ 0
      +a +a 0
      +a _a 0
      _a +a 0
      +_ +_ 0
      _+ +_ 0
      _+ _+ 0
      + _ 0
      _ + 0
      1.0~rc1 1.0~rc1 0
      1.0~rc1 1.0 -1
      1.0 1.0~rc1 1
      1.0~rc1 1.0~rc2 -1
      1.0~rc2 1.0~rc1 1
      1.0~rc1~git123 1.0~rc1~git123 0
      1.0~rc1~git123 1.0~rc1 -1
      1.0~rc1 1.0~rc1~git123 1
      1.0^ 1.0^ 0
      1.0^ 1.0 1
      1.0 1.0^ -1
      1.0^git1 1.0^git1 0
      1.0^git1 1.0 1
      1.0 1.0^git1 -1
      1.0^git1 1.0^git2 -1
      1.0^git2 1.0^git1 1
      1.0^git1 1.01 -1
      1.01 1.0^git1 1
      1.0^20160101 1.0^20160101 0
      1.0^20160101 1.0.1 -1
      1.0.1 1.0^20160101 1
      1.0^20160101^git1 1.0^20160101^git1 0
      1.0^20160102 1.0^20160101^git1 1
      1.0^20160101^git1 1.0^20160102 -1
      1.0~rc1^git1 1.0~rc1^git1 0
      1.0~rc1^git1 1.0~rc1 1
      1.0~rc1 1.0~rc1^git1 -1
      1.0^git1~pre 1.0^git1~pre 0
      1.0^git1 1.0^git1~pre 1
      1.0^git1~pre 1.0^git1 -1
      1b.fc17 1b.fc17 0
      1b.fc17 1.fc17 -1
      1.fc17 1b.fc17 1
      1g.fc17 1g.fc17 0
      1g.fc17 1.fc17 1
      1.fc17 1g.fc17 -1
      1.34.2 1.34.10 -1
      150500.1.1 150500.1.2 -1
      2.2.6 2.2.6~rc1 1
      """;

  static List<Object[]> table() {
    List<Object[]> out = new ArrayList<>();
    for (String line : TABLE.strip().split("\n")) {
      String[] f = line.trim().split(" ");
      out.add(new Object[] {f[0], f[1], Integer.parseInt(f[2])});
    }
    return out;
  }

  @ParameterizedTest(name = "rpmvercmp({0}, {1}) = {2}")
  @MethodSource("table")
  void comparesAsRpmvercmp(String a, String b, int expected) {
    assertEquals(expected, RpmVersion.rpmvercmp(a, b));
  }

  @Test
  void epochsAndReleases() {
    assertTrue(RpmVersion.parse("1:1.0-1").compareTo(RpmVersion.parse("2.0-1")) > 0, "epoch wins");
    assertEquals(0, RpmVersion.parse("0:1.0-1").compareTo(RpmVersion.parse("1.0-1")), "epoch 0 is no epoch");
    assertTrue(RpmVersion.parse("1.34.2-150500.1.1").compareTo(RpmVersion.parse("1.34.2-150500.1.2")) < 0);
    assertEquals(0, RpmVersion.SCHEME.compare("1.34.2-150500.1.1", "1.34.2"),
        "a dependency without release matches any release");
    assertTrue(RpmVersion.parse("1.0").compareTo(RpmVersion.parse("1.0-1")) < 0, "sorting still orders them");
    assertEquals("2:1.0-3", RpmVersion.parse("2:1.0-3").toString());
  }
}
