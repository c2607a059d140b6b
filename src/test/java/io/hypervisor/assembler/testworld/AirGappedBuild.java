package io.hypervisor.assembler.testworld;

import io.hypervisor.assembler.cli.Main;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * How a suite image is built the air-gapped way, as a site receives it: on the "connected host"
 * {@code assemble fetch RECIPE --bundle F --with-base --sign-key K} against the loopback
 * repositories, registry and a loopback cloud-image site (the base is a download pinned by a
 * gpg-signed SHA512SUMS, as Debian publishes it); then, with every server closed and a fresh
 * cache, {@code assemble RECIPE --bundle F --trust-key K} in an empty network namespace
 * ({@code unshare -n}) as its own process, SIGKILLed 8 s into the package step, and run again
 * to completion. What the kill left is recorded for BundleIT to assert.
 */
public final class AirGappedBuild {
  /** What the SIGKILL left: whether the build got into the package step, its appliance was its child and died with it, and what stayed on disk. */
  public record Kill(boolean reachedPackages, boolean applianceWasChild, boolean applianceGone, boolean outputAbsent,
      boolean manifestAbsent, int workDirs, String console) {}

  /** The bundle and its key, the connected fetch, the kill, and where the site kept its cache and work. */
  public record Site(Path bundle, Path trustKey, Path recipe, SuiteImages.Run fetch, Kill kill, Path cache, Path work) {}

  private AirGappedBuild() {}

  static SuiteImages.Built build(SuiteImage i, Path dir) throws Exception {
    Path repos = Fixtures.part("repos");
    Path trust = repos.resolve("apt/core:/stable:/v1.34/deb/Release.key");
    Path bundle = dir.resolve("site.tar");
    Path image = dir.resolve("out").resolve("test-world-" + i.label() + ".qcow2");
    Path baseSite = dir.resolve("base-site");
    Files.createDirectories(baseSite);
    String baseName = i.base().getFileName().toString();
    Files.createSymbolicLink(baseSite.resolve(baseName), i.base());
    Files.writeString(baseSite.resolve("SHA512SUMS"), Tools.run(List.of("sha512sum", baseName), baseSite, 300).ok().out());
    new Gpg(dir.resolve("gnupg")).detachSign(Gpg.worldFingerprint(), baseSite.resolve("SHA512SUMS"),
        baseSite.resolve("SHA512SUMS.sign"));
    Path recipe;
    SuiteImages.Run fetch;
    try (TestRegistry registry = TestRegistry.builder().build().start();
        StaticServer apt = new StaticServer(repos.resolve("apt"), "127.0.0.1");
        StaticServer docker = new StaticServer(Fixtures.part("docker-repo"), "127.0.0.1");
        StaticServer cloud = new StaticServer(baseSite, "127.0.0.1")) {
      recipe = TestRecipes.recipe(dir.resolve("recipe"), i, apt.url(), docker.url(), registry.url(), image);
      String local = "  path: " + i.base() + "\n";
      String text = Files.readString(recipe);
      if (!text.contains(local)) {
        throw new IllegalStateException("the recipe names its base differently: " + text);
      }
      Files.writeString(recipe, text.replace(local, """
            url: %s/%s
            checksums:
              url: %s/SHA512SUMS
              signature: %s/SHA512SUMS.sign
              key: {path: %s, fingerprint: %s}
          """.formatted(cloud.url(), baseName, cloud.url(), cloud.url(), trust, Gpg.worldFingerprint())));
      fetch = SuiteImages.run("--cache", dir.resolve("connected-cache").toString(), "--accel",
          Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "fetch", recipe.toString(), "--bundle",
          bundle.toString(), "--with-base",
          "--sign-key", repos.resolve("signing-key.asc").toString());
    }
    Path lock = dir.resolve(i.label() + ".lock.json");
    Path cache = dir.resolve("site-cache");
    Path work = dir.resolve("site-work");
    Path manifest = image.resolveSibling(image.getFileName().toString().replaceFirst("\\.qcow2$", ".json"));
    if (fetch.code() != 0) {
      Site site = new Site(bundle, trust, recipe, fetch, null, cache, work);
      return new SuiteImages.Built(i, recipe, image, manifest, lock, cache, work, fetch.code(), fetch.out(),
          "fetch failed: " + fetch.err(), site);
    }
    List<String> cmd = new ArrayList<>(List.of("unshare", "-n",
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
        "-Djava.library.path=" + System.getProperty("java.library.path"), Main.class.getName(),
        "--cache", cache.toString(), "--work", work.toString(), "--accel", Guests.accelerator().toString(),
        "--guest-cpus", Guests.CPUS,
        recipe.toString(), "--bundle", bundle.toString(), "--trust-key", trust.toString(), "--write-lock",
        lock.toString()));
    Kill kill = killDuringPackages(cmd, work, image, manifest);
    Path out = Files.createTempFile(dir, "site", ".out");
    Path err = Files.createTempFile(dir, "site", ".err");
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile())
        .redirectError(err.toFile()).start();
    p.getOutputStream().close();
    if (!p.waitFor(60, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException("the air-gapped build did not finish within an hour");
    }
    return new SuiteImages.Built(i, recipe, image, manifest, lock, cache, work, p.exitValue(), Files.readString(out),
        Files.readString(err), new Site(bundle, trust, recipe, fetch, kill, cache, work));
  }

  /** Runs the build, SIGKILLs it 8 s into the package step, and records what the kill left. */
  private static Kill killDuringPackages(List<String> cmd, Path work, Path image, Path manifest) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<ProcessHandle> children = new ArrayList<>();
    StringBuilder console = new StringBuilder();
    boolean reached;
    boolean applianceChild = false;
    try {
      CompletableFuture<Boolean> inPackages = new CompletableFuture<>();
      Thread reader = new Thread(() -> drain(p.getInputStream(), "==> packages", console, inPackages));
      reader.setDaemon(true);
      reader.start();
      reached = inPackages.get(20, TimeUnit.MINUTES);
      if (reached) {
        Thread.sleep(8_000); // into the step (its files streaming in, or apt-get already running)
        p.descendants().forEach(children::add);
        applianceChild = children.stream().anyMatch(h -> h.info().command().orElse("").contains("qemu"));
      }
      Tools.run(List.of("kill", "-KILL", Long.toString(p.pid())));
      p.waitFor(30, TimeUnit.SECONDS);
      Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
      while (children.stream().anyMatch(ProcessHandle::isAlive) && Instant.now().isBefore(deadline)) {
        Thread.sleep(500);
      }
    } finally {
      p.destroyForcibly();
    }
    boolean gone = children.stream().noneMatch(ProcessHandle::isAlive);
    children.forEach(ProcessHandle::destroyForcibly);
    String text;
    synchronized (console) {
      text = console.toString();
    }
    return new Kill(reached, applianceChild, gone, !Files.exists(image), !Files.exists(manifest), runDirs(work).size(),
        text);
  }

  /** The build-* work directories under {@code work}. */
  static List<Path> runDirs(Path work) throws IOException {
    if (!Files.isDirectory(work)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(work)) {
      return s.filter(p -> p.getFileName().toString().startsWith("build-")).toList();
    }
  }

  /** Reads every line (so the child never blocks on a full pipe); completes {@code seen} at the first with {@code prefix}. */
  private static void drain(InputStream in, String prefix, StringBuilder console, CompletableFuture<Boolean> seen) {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        synchronized (console) {
          console.append(line).append('\n');
        }
        if (line.startsWith(prefix)) {
          seen.complete(true);
        }
      }
    } catch (IOException e) {
      // the process was killed
    } finally {
      seen.complete(false);
    }
  }
}
