package io.hypervisor.assembler.testworld;

import io.hypervisor.assembler.model.ContainerdLine;
import io.hypervisor.assembler.plan.ContainerdRelease;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throw-away containerd of one release line (real Debian builds from the fixture part
 * {@code containerd}: 1.6 from bookworm, 1.7 from trixie, 2.1 from sid), run as root on a temporary
 * root with its own sockets, never touching a system containerd (containerd-store.md §5.2). With
 * CRI it runs on the very config.toml a node gets (CRI on, systemd cgroups, the pinned sandbox),
 * with only its paths moved into the temporary directory, so its start-up image loading checks a
 * seeded store the way a node's kubelet would see it.
 */
public final class TestContainerd implements AutoCloseable {
  /** The lines the fixture part carries. */
  public static final List<String> LINES = List.of("1.6", "1.7", "2.1");

  private final String line;
  private final Path dir;
  private final Path root;
  private final Process process;

  private TestContainerd(String line, Path dir, Path root, Process process) {
    this.line = line;
    this.dir = dir;
    this.root = root;
    this.process = process;
  }

  /** Debian 12's containerd 1.6 on {@code root}. */
  public static TestContainerd start(Path root, boolean cri, String sandboxImage) {
    return start("1.6", root, cri, sandboxImage);
  }

  /** The directory holding containerd, containerd-shim-runc-v2 and ctr of a line. */
  public static Path bin(String line) {
    return Fixtures.part("containerd").resolve(line).resolve("bin");
  }

  /**
   * The config a test daemon runs on: with CRI, the node's own config for this line (as the
   * assembler writes it) with root, state, sockets and CNI directories moved under {@code dir};
   * without, a minimal one with every CRI plugin disabled.
   */
  public static String config(String line, Path dir, Path root, boolean cri, String sandboxImage) {
    ContainerdLine l = ContainerdLine.parse(line);
    boolean v3 = l.configVersion() == 3;
    String paths = "root = \"" + root + "\"\nstate = \"" + dir.resolve("state") + "\"\n";
    StringBuilder c = new StringBuilder();
    if (cri) {
      String node = ContainerdRelease.config(l, sandboxImage);
      int afterVersion = node.indexOf('\n', node.indexOf("version = ")) + 1;
      c.append(node, 0, afterVersion).append(paths).append(node.substring(afterVersion));
      String cni = v3 ? "plugins.\"io.containerd.cri.v1.runtime\".cni" : "plugins.\"io.containerd.grpc.v1.cri\".cni";
      c.append("\n[").append(cni).append("]\n  bin_dir = \"").append(dir.resolve("cni/bin"))
          .append("\"\n  conf_dir = \"").append(dir.resolve("cni/conf")).append("\"\n");
    } else {
      c.append("version = ").append(l.configVersion()).append('\n').append(paths);
      c.append(v3 ? "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.cri.v1.images\", "
          + "\"io.containerd.cri.v1.runtime\"]\n" : "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n");
    }
    c.append("\n[grpc]\n  address = \"").append(dir.resolve("c.sock")).append("\"\n");
    c.append("\n[ttrpc]\n  address = \"").append(dir.resolve("c.sock.ttrpc")).append("\"\n");
    c.append("\n[debug]\n  level = \"debug\"\n");
    c.append("\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"").append(dir.resolve("opt")).append("\"\n");
    return c.toString();
  }

  /**
   * Starts containerd {@code line} on {@code root} (created if missing; may hold a seeded tree).
   * With {@code cri}, the CRI plugin runs with {@code sandboxImage} as its sandbox image.
   */
  public static TestContainerd start(String line, Path root, boolean cri, String sandboxImage) {
    try {
      Path dir = Files.createTempDirectory("ctrd-" + line + "-");
      Files.createDirectories(root);
      Files.writeString(dir.resolve("config.toml"), config(line, dir, root, cri, sandboxImage));
      ProcessBuilder pb = new ProcessBuilder(bin(line).resolve("containerd").toString(), "--config",
          dir.resolve("config.toml").toString()).redirectErrorStream(true)
          .redirectOutput(dir.resolve("containerd.log").toFile());
      environment(pb.environment(), line);
      Process p = pb.start();
      TestContainerd t = new TestContainerd(line, dir, root, p);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < deadline) {
        if (!p.isAlive()) {
          throw new IllegalStateException("containerd " + line + " exited: " + t.log());
        }
        if (Files.exists(dir.resolve("c.sock")) && t.ctr("version").code() == 0) {
          // Let the start-up garbage collection (100 ms after start) run before tests look.
          Thread.sleep(1500);
          return t;
        }
        Thread.sleep(100);
      }
      t.close();
      throw new IllegalStateException("containerd " + line + " did not come up within 60 s: " + t.log());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The line's binaries first on PATH: containerd finds its shim there (runc is the host's). */
  private static void environment(Map<String, String> env, String line) {
    env.put("PATH", bin(line) + ":" + env.getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
  }

  public Path root() {
    return root;
  }

  public String line() {
    return line;
  }

  /** The daemon's gRPC socket (for ctr run by hand, e.g. with its output redirected to a file). */
  public Path socket() {
    return dir.resolve("c.sock");
  }

  /** The config this daemon runs on. */
  public Path configFile() {
    return dir.resolve("config.toml");
  }

  /** Runs this line's ctr against this containerd. */
  public Tools.Result ctr(String... args) {
    List<String> cmd = new ArrayList<>(List.of(bin(line).resolve("ctr").toString(), "--address",
        dir.resolve("c.sock").toString()));
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
