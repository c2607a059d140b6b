package io.hypervisor.assembler.bench;

import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.TestRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Pulls the ~1 GiB four-layer benchmark image from a loopback docker-registry with a cold cache:
 * {@code ./assemble pull} as users run it, its JVM at -Xmx128m (streaming only), against
 * {@code skopeo copy docker://… oci:DIR}, alternating, several rounds; prints each round, the
 * medians and the ratio. Target (issue): ours ≤ 0.7 × skopeo.
 */
public final class PullBenchmark {
  private PullBenchmark() {}

  public static void main(String[] args) throws Exception {
    int rounds = Integer.parseInt(args[1]);
    String image = "ghcr.io/hypervisor-io/bench-large:1gib";
    long bytes = 0;
    List<Double> ours = new ArrayList<>();
    List<Double> skopeo = new ArrayList<>();
    Path work = Files.createTempDirectory("bench-pull");
    try (TestRegistry r = TestRegistry.builder().build().start()) {
      for (int i = 0; i < rounds; i++) {
        // Alternate who goes first, so page-cache warmth and neighbours do not favour one side.
        for (int k = 0; k < 2; k++) {
          boolean oursTurn = (i + k) % 2 == 0;
          Path dir = work.resolve((oursTurn ? "ours-" : "skopeo-") + i);
          List<String> cmd = oursTurn
              ? List.of("./assemble", "--cache", dir.toString(), "pull", "--mirror", "ghcr.io=" + r.url(), image)
              : List.of("skopeo", "copy", "--quiet", "--src-tls-verify=false",
                  "docker://" + r.host() + "/hypervisor-io/bench-large:1gib", "oci:" + dir + ":bench");
          double s = time(cmd);
          (oursTurn ? ours : skopeo).add(s);
          if (oursTurn && bytes == 0) {
            bytes = size(dir);
          }
          delete(dir);
        }
        System.out.printf(Locale.ROOT, "round %d: assemble pull %.2f s, skopeo copy %.2f s%n", i + 1,
            ours.get(ours.size() - 1), skopeo.get(skopeo.size() - 1));
      }
    } finally {
      delete(work);
    }
    double mo = median(ours);
    double ms = median(skopeo);
    System.out.printf(Locale.ROOT, "image %s, %.0f MiB, %d rounds, cold cache each round%n", image, bytes / 1048576.0, rounds);
    System.out.printf(Locale.ROOT, "median: assemble pull %.2f s (%.0f MB/s), skopeo copy %.2f s (%.0f MB/s)%n",
        mo, bytes / mo / 1e6, ms, bytes / ms / 1e6);
    System.out.printf(Locale.ROOT, "ratio assemble/skopeo: %.2f (target <= 0.70)%n", mo / ms);
    System.out.println("fixture digest " + Fixtures.published(image).digest());
  }

  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  static double time(List<String> cmd) throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("ASSEMBLE_JAVA_OPTS", "-Xmx128m");
    Process p = pb.start();
    int code = p.waitFor();
    if (code != 0) {
      throw new IllegalStateException("failed (" + code + "): " + String.join(" ", cmd));
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  static long size(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir.resolve("blobs"))) {
      return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    }
  }

  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(Double::compare);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  static void delete(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
