package io.hypervisor.assembler.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The command line under hostile input, and what every such case must show: the exit code, one
 * clear error (no stack trace, no Java class name), within a time bound.
 */
final class Cli {
  /** A finished command. */
  record Run(int code, String out, String err) {
    /** The error's lines, without hints and listed problems. */
    String error() {
      return err.lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("");
    }
  }

  private Cli() {}

  static Run run(Duration bound, String... args) {
    return assertTimeoutPreemptively(bound, () -> {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
          new PrintStream(err, true, StandardCharsets.UTF_8));
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }, "no hang: " + String.join(" ", args));
  }

  /** Runs and checks the refusal: {@code code}, one clear message containing {@code says}, in {@code bound}. */
  static Run refused(int code, String says, Duration bound, String... args) {
    Run r = run(bound, args);
    assertEquals(code, r.code(), r.out() + r.err());
    clear(r);
    assertTrue(r.err().contains(says), "says \"" + says + "\": " + r.err());
    return r;
  }

  /** No stack trace, no class name, no "internal error". */
  static void clear(Run r) {
    String all = r.out() + r.err();
    assertFalse(all.contains("\tat ") || all.matches("(?s).*\\bat [a-z]+\\.[a-z.]+\\.[A-Z]\\w*\\.\\w+\\(.*"),
        "no stack trace: " + all);
    assertFalse(all.matches("(?s).*\\b(java|javax|com|org|io)\\.[a-z0-9.]+\\.[A-Z]\\w*(Exception|Error)\\b.*"),
        "no class name: " + all);
    assertFalse(all.contains("internal error"), "a clear refusal, not an internal error: " + all);
  }

  /** Every path under {@code dir}, to compare before and after (nothing may appear outside the tool's directories). */
  static Set<String> tree(Path dir) throws IOException {
    Set<String> s = new TreeSet<>();
    try (Stream<Path> w = Files.walk(dir)) {
      w.forEach(p -> s.add(dir.relativize(p).toString()));
    }
    return s;
  }

  /** Makes a FIFO (as a user might pass by mistake, or an attacker on purpose). */
  static Path fifo(Path p) throws IOException, InterruptedException {
    Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
    assertEquals(0, mk.waitFor());
    return p;
  }

  static List<String> args(String... a) {
    return List.of(a);
  }
}
