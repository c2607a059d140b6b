package io.hypervisor.assembler.pkgrepo.rpm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hypervisor.assembler.testworld.Tools;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The rpm version table and random versions, compared by rpm itself ({@code rpm.vercmp} in rpm's
 * Lua, what rpmvercmp.at uses) in one rpm call, against our rpmvercmp.
 */
@Tag("integration")
class RpmVersionIT {
  @Test
  void agreesWithRpm() {
    List<String[]> pairs = new ArrayList<>();
    for (Object[] row : RpmVersionTest.table()) {
      pairs.add(new String[] {(String) row[0], (String) row[1]});
    }
    Random rnd = new Random(42);
    String alphabet = "0123456789..~^_+abz";
    for (int i = 0; i < 400; i++) {
      pairs.add(new String[] {random(rnd, alphabet), random(rnd, alphabet)});
    }
    StringBuilder lua = new StringBuilder("%{lua:");
    for (String[] p : pairs) {
      lua.append("print(rpm.vercmp(\"").append(p[0]).append("\", \"").append(p[1]).append("\") .. \",\") ");
    }
    lua.append("}");
    String[] answers = Tools.run(List.of("rpm", "--eval", lua.toString())).ok().out().trim().split(",\\s*");
    assertEquals(pairs.size(), answers.length, "one answer per pair");
    for (int i = 0; i < pairs.size(); i++) {
      String[] p = pairs.get(i);
      assertEquals(Integer.parseInt(answers[i].trim()), RpmVersion.rpmvercmp(p[0], p[1]),
          "rpmvercmp(" + p[0] + ", " + p[1] + ")");
    }
  }

  static String random(Random rnd, String alphabet) {
    int n = 1 + rnd.nextInt(7);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
    }
    return b.toString();
  }
}
