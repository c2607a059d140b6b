package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throw-away containerd (Debian's 1.6.20, run as root) on a temporary root with its own
 * sockets, never touching a system containerd (containerd-store.md §5.2). With CRI enabled its
 * image loading runs at start, so a seeded store is checked the way a node's kubelet would see it.
 */
public final class TestContainerd implements AutoCloseable {
  private final Path dir;
  private final Path root;
  private final Process process;

  private TestContainerd(Path dir, Path root, Process process) {
    this.dir = dir;
    this.root = root;
    this.process = process;
  }

  /**
   * Starts containerd on {@code root} (created if missing; may hold a seeded tree). With
   * {@code cri}, the CRI plugin runs with {@code sandboxImage} as its sandbox image.
   */
  public static TestContainerd start(Path root, boolean cri, String sandboxImage) {
    try {
      Path dir = Files.createTempDirectory("ctrd");
      Files.createDirectories(root);
      StringBuilder c = new StringBuilder();
      c.append("version = 2\n");
      c.append("root = \"").append(root).append("\"\n");
      c.append("state = \"").append(dir.resolve("state")).append("\"\n");
      if (!cri) {
        c.append("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n");
      }
      c.append("[grpc]\n  address = \"").append(dir.resolve("c.sock")).append("\"\n");
      c.append("[ttrpc]\n  address = \"").append(dir.resolve("c.sock.ttrpc")).append("\"\n");
      c.append("[debug]\n  level = \"debug\"\n");
      c.append("[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"").append(dir.resolve("opt")).append("\"\n");
      if (cri) {
        c.append("[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"").append(sandboxImage).append("\"\n");
        c.append("  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"").append(dir.resolve("cni/bin"))
            .append("\"\n    conf_dir = \"").append(dir.resolve("cni/conf")).append("\"\n");
      }
      Files.writeString(dir.resolve("config.toml"), c.toString());
      Process p = new ProcessBuilder("containerd", "--config", dir.resolve("config.toml").toString())
          .redirectErrorStream(true).redirectOutput(dir.resolve("containerd.log").toFile()).start();
      TestContainerd t = new TestContainerd(dir, root, p);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline) {
        if (!p.isAlive()) {
          throw new IllegalStateException("containerd exited: " + t.log());
        }
        if (Files.exists(dir.resolve("c.sock")) && t.ctr("version").code() == 0) {
          // Let the start-up garbage collection (100 ms after start) run before tests look.
          Thread.sleep(1500);
          return t;
        }
        Thread.sleep(100);
      }
      t.close();
      throw new IllegalStateException("containerd did not come up within 30 s: " + t.log());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public Path root() {
    return root;
  }

  /** Runs ctr against this containerd. */
  public Tools.Result ctr(String... args) {
    List<String> cmd = new ArrayList<>(List.of("ctr", "--address", dir.resolve("c.sock").toString()));
    cmd.addAll(List.of(args));
    return Tools.run(cmd, null, 300);
  }

  public String log() {
    try {
      return Files.readString(dir.resolve("containerd.log"));
    } catch (IOException e) {
      return "";
    }
  }

  /** Stops containerd (SIGTERM, then SIGKILL); the root stays for inspection. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException ignored) {
      // temporary directory
    }
  }
}
