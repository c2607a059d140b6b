package io.hypervisor.assembler.pkgrepo.apt;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hypervisor.assembler.testworld.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Debian version table and random versions, compared by {@code dpkg --compare-versions}
 * (one shell loop, so a thousand comparisons take a second), against our DebVersion.
 */
@Tag("integration")
class DebVersionIT {
  @TempDir
  Path tmp;

  @Test
  void agreesWithDpkg() throws Exception {
    List<String[]> pairs = new ArrayList<>();
    for (Object[] row : DebVersionTest.table()) {
      pairs.add(new String[] {(String) row[0], (String) row[1]});
    }
    Random rnd = new Random(7);
    for (int i = 0; i < 500; i++) {
      pairs.add(new String[] {random(rnd), random(rnd)});
    }
    StringBuilder in = new StringBuilder();
    for (String[] p : pairs) {
      in.append(p[0]).append(' ').append(p[1]).append('\n');
    }
    Path list = tmp.resolve("pairs");
    Files.writeString(list, in);
    String script = "while read a b; do if dpkg --compare-versions \"$a\" lt \"$b\"; then echo -1; "
        + "elif dpkg --compare-versions \"$a\" eq \"$b\"; then echo 0; else echo 1; fi; done < " + list;
    String[] answers = Tools.run(List.of("sh", "-c", script)).ok().out().trim().split("\n");
    assertEquals(pairs.size(), answers.length);
    for (int i = 0; i < pairs.size(); i++) {
      String[] p = pairs.get(i);
      assertEquals(Integer.parseInt(answers[i]), Integer.signum(DebVersion.compare(p[0], p[1])),
          "compare(" + p[0] + ", " + p[1] + ")");
    }
  }

  /** A syntactically valid Debian version: optional epoch, upstream starting with a digit, optional revision. */
  static String random(Random rnd) {
    String up = "0123456789.~+abz";
    StringBuilder b = new StringBuilder();
    if (rnd.nextInt(5) == 0) {
      b.append(rnd.nextInt(3)).append(':');
    }
    b.append(rnd.nextInt(10));
    for (int i = rnd.nextInt(6); i > 0; i--) {
      b.append(up.charAt(rnd.nextInt(up.length())));
    }
    if (rnd.nextBoolean()) {
      b.append('-').append(rnd.nextInt(10));
      for (int i = rnd.nextInt(3); i > 0; i--) {
        b.append("0123456789.~+a".charAt(rnd.nextInt(14)));
      }
    }
    return b.toString();
  }
}
