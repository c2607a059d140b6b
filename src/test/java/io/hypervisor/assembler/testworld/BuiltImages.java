package io.hypervisor.assembler.testworld;

import io.hypervisor.assembler.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The test world's node images, each built once per test JVM by the real CLI ({@code assemble
 * RECIPE --write-lock}) against the loopback apt repository and registry, and shared by every test
 * that reads them: a TCG build takes minutes, the suite has a budget. The worker starts from the
 * plain base, the control plane from the base with a swap entry in fstab.
 */
public final class BuiltImages {
  /** One build: its recipe (whose servers are gone after the build), output, manifest, lock, cache and console. */
  public record Built(String role, Path recipe, Path image, Path manifest, Path lock, Path cache, Path work,
      int code, String out, String err) {}

  private static final Map<String, Built> BUILT = new HashMap<>();
  private static Path root;

  private BuiltImages() {}

  /** The build for {@code role}, made on first use. */
  public static synchronized Built get(String role) {
    return BUILT.computeIfAbsent(role, BuiltImages::build);
  }

  /** The directory all builds share (one content store, as on a build host). */
  public static synchronized Path root() {
    if (root == null) {
      try {
        root = Files.createTempDirectory("assemble-built-");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Path r = root;
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(r)));
    }
    return root;
  }

  /** Runs the CLI in this JVM. */
  public static Built run(String role, Path recipe, Path image, Path lock, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    Path manifest = image.resolveSibling(image.getFileName().toString().replaceFirst("\\.qcow2$", ".json"));
    return new Built(role, recipe, image, manifest, lock, root().resolve("cache"), root().resolve("work"), code,
        out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static Built build(String role) {
    Path dir = root();
    try (TestRegistry registry = TestRegistry.builder().build().start();
        StaticServer apt = new StaticServer(Fixtures.part("repos").resolve("apt"), "127.0.0.1")) {
      Path image = dir.resolve("out").resolve("test-world-" + role + ".qcow2");
      Path base = role.equals("control-plane")
          ? Fixtures.part("base-image").resolve("debian-12-generic-swap.qcow2") : null;
      Path recipe = TestRecipes.recipe(dir.resolve("recipes"), role, apt.url(), registry.url(), image, base);
      Path lock = dir.resolve(role + ".lock.json");
      return run(role, recipe, image, lock, "--cache", dir.resolve("cache").toString(), "--work",
          dir.resolve("work").toString(), "--accel", Guests.accelerator().toString(), recipe.toString(),
          "--write-lock", lock.toString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temporary directory: the OS cleans it eventually
    }
  }
}
