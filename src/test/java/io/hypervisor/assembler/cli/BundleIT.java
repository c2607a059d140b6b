package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.pkgrepo.TestKeys;
import io.hypervisor.assembler.testworld.BuiltImages;
import io.hypervisor.assembler.testworld.BuiltImages.Built;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Gpg;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.StaticServer;
import io.hypervisor.assembler.testworld.TestRecipes;
import io.hypervisor.assembler.testworld.TestRegistry;
import io.hypervisor.assembler.testworld.Tools;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The air-gap workflow on the test world: {@code assemble fetch} with the loopback registry and
 * repositories writes a signed bundle; {@code bundle ls|verify} read it; a build from it runs in
 * an empty network namespace ({@code unshare -n}) with a fresh cache, its base image (a download
 * pinned by a signed SHA512SUMS) taken from the bundle, and yields the same packages
 * and image digests as the connected build; a bundle missing an image and a package, one with a
 * tampered blob and one checked against the wrong key are refused before any image is touched,
 * with every bad item named.
 */
@Tag("integration")
class BundleIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  @Test
  void fetchThenBuildWithNoNetworkAtAll() throws Exception {
    Built connected = BuiltImages.get("worker");
    assertEquals(0, connected.code(), connected.out() + connected.err());
    Path repos = Fixtures.part("repos");
    Path trust = repos.resolve("apt/core:/stable:/v1.34/deb/Release.key");
    Path bundle = tmp.resolve("site.tar");
    Path recipe;
    // The base image is a download pinned by a signed SHA512SUMS, as Debian publishes it, so the
    // bundle must carry it (--with-base) under its sha256 and the site find it under its sha512.
    Path baseSite = tmp.resolve("base-site");
    Files.createDirectories(baseSite);
    Path baseImage = Fixtures.part("base-image").resolve("debian-12-generic.qcow2");
    Files.createSymbolicLink(baseSite.resolve("debian-12-generic.qcow2"), baseImage);
    Files.writeString(baseSite.resolve("SHA512SUMS"),
        Tools.run(List.of("sha512sum", "debian-12-generic.qcow2"), baseSite, 120).ok().out());
    new Gpg(tmp.resolve("gnupg")).detachSign(Gpg.worldFingerprint(), baseSite.resolve("SHA512SUMS"),
        baseSite.resolve("SHA512SUMS.sign"));
    try (TestRegistry registry = TestRegistry.builder().build().start();
        StaticServer apt = new StaticServer(repos.resolve("apt"), "127.0.0.1");
        StaticServer cloud = new StaticServer(baseSite, "127.0.0.1")) {
      recipe = TestRecipes.recipe(tmp.resolve("recipe"), "worker", apt.url(), registry.url(),
          tmp.resolve("out/site-worker.qcow2"), null);
      String local = "  path: " + baseImage + "\n";
      String text = Files.readString(recipe);
      assertTrue(text.contains(local), text);
      Files.writeString(recipe, text.replace(local, """
            url: %s/debian-12-generic.qcow2
            checksums:
              url: %s/SHA512SUMS
              signature: %s/SHA512SUMS.sign
              key: {path: %s, fingerprint: %s}
          """.formatted(cloud.url(), cloud.url(), cloud.url(), trust, Gpg.worldFingerprint())));
      CliTest.Run f = CliTest.run("--cache", tmp.resolve("connected-cache").toString(), "--accel",
          Guests.accelerator().toString(), "fetch", recipe.toString(), "--bundle", bundle.toString(), "--with-base",
          "--sign-key", repos.resolve("signing-key.asc").toString());
      assertEquals(0, f.code(), f.out() + f.err());
      assertTrue(f.out().startsWith("wrote " + bundle), f.out());
    }
    CliTest.Run ls = CliTest.run("bundle", "ls", bundle.toString());
    assertEquals(0, ls.code(), ls.err());
    assertTrue(ls.out().contains("kubelet 1.34.2-1.1") && ls.out().contains("registry.k8s.io/pause:3.10.1")
        && ls.out().contains("debian-12-generic.qcow2") && ls.out().contains(", signed"), ls.out());
    CliTest.Run verify = CliTest.run("bundle", "verify", bundle.toString(), "--trust-key", trust.toString());
    assertEquals(0, verify.code(), verify.out());
    // skopeo reads the images straight from the bundle, an OCI layout (ref.name is the tag, as containerd writes it)
    Tools.run(List.of("skopeo", "inspect", "--raw", "oci-archive:" + bundle + ":3.10.1")).ok();

    // The site: a fresh cache, an empty network namespace, the servers long gone. The first build
    // is killed (SIGKILL: no shutdown hook runs) in the middle of the package step.
    Path work = tmp.resolve("site-work");
    List<String> cmd = new ArrayList<>(List.of("unshare", "-n",
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
        "-Djava.library.path=" + System.getProperty("java.library.path"), Main.class.getName(),
        "--cache", tmp.resolve("site-cache").toString(), "--work", work.toString(), "--accel",
        Guests.accelerator().toString(), recipe.toString(), "--bundle", bundle.toString(), "--trust-key",
        trust.toString()));
    Path output = tmp.resolve("out/site-worker.qcow2");
    killDuringPackages(cmd, work);
    assertFalse(Files.exists(output), "no output file after the kill");
    assertFalse(Files.exists(tmp.resolve("out/site-worker.json")), "no manifest after the kill");

    Tools.Result site = Tools.run(cmd, tmp, 1800);
    assertEquals(0, site.code(), site.out() + site.err());
    assertTrue(Files.exists(output));
    assertEquals(List.of(), runDirs(work), "the killed build's work directory was swept");
    JsonNode a = JSON.readTree(connected.manifest().toFile());
    JsonNode b = JSON.readTree(tmp.resolve("out/site-worker.json").toFile());
    assertEquals(names(a.get("packages")), names(b.get("packages")), "same packages at the same versions and sha256");
    assertEquals(a.get("images"), b.get("images"), "same image digests");

    // Broken bundles are refused before an image is touched, every problem named.
    Path broken = tmp.resolve("broken.tar");
    String pause = Fixtures.published("registry.k8s.io/pause:3.10.1").digest().substring("sha256:".length());
    JsonNode kubectl = null;
    for (JsonNode p : a.get("packages")) {
      if (p.get("name").asText().equals("kubectl")) {
        kubectl = p;
      }
    }
    rewrite(bundle, broken, Set.of("blobs/sha256/" + pause, "blobs/sha256/" + kubectl.get("sha256").asText()), null);
    CliTest.Run r = CliTest.run("--cache", tmp.resolve("c2").toString(), "--accel", Guests.accelerator().toString(),
        recipe.toString(), "--bundle", broken.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("missing package kubectl 1.34.2-1.1"), r.err());
    assertTrue(r.err().contains("missing image-blob registry.k8s.io/pause:3.10.1"), r.err());
    assertFalse(Files.exists(tmp.resolve("out/.site-worker.qcow2.partial")));

    Path tampered = tmp.resolve("tampered.tar");
    rewrite(bundle, tampered, Set.of(), "blobs/sha256/" + kubectl.get("sha256").asText());
    CliTest.Run t = CliTest.run("bundle", "verify", tampered.toString());
    assertEquals(1, t.code(), t.out());
    assertTrue(t.out().contains("FAIL  bad package kubectl 1.34.2-1.1"), t.out());

    Path otherKey = tmp.resolve("other.asc");
    Files.write(otherKey, TestKeys.armoredPublicKey("Someone Else <else@example.org>"));
    CliTest.Run s = CliTest.run("--cache", tmp.resolve("c3").toString(), "--accel", Guests.accelerator().toString(),
        recipe.toString(), "--bundle", bundle.toString(), "--trust-key", otherKey.toString());
    assertEquals(2, s.code(), s.err());
    assertTrue(s.err().contains("signature:"), s.err());
    assertFalse(Files.exists(tmp.resolve("c3/blobs/sha256/" + pause)), "nothing from an untrusted bundle is kept");
  }

  private static Set<String> names(JsonNode packages) {
    Set<String> s = new java.util.TreeSet<>();
    packages.forEach(p -> s.add(p.get("name").asText() + " " + p.get("version").asText() + " "
        + p.get("sha256").asText()));
    return s;
  }

  /** Copies a tar, leaving out some entries and flipping the first byte of one. */
  private static void rewrite(Path from, Path to, Set<String> drop, String flip) throws IOException {
    try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(from));
        TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(to))) {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        if (drop.contains(e.getName())) {
          continue;
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        in.transferTo(b);
        byte[] data = b.toByteArray();
        if (e.getName().equals(flip)) {
          data[0] ^= 1;
        }
        TarArchiveEntry c = new TarArchiveEntry(e.getName());
        c.setSize(data.length);
        out.putArchiveEntry(c);
        new ByteArrayInputStream(data).transferTo(out);
        out.closeArchiveEntry();
      }
    }
  }

  /** Runs the build, SIGKILLs it 15 s into the package step, and checks the appliance went with it. */
  private static void killDuringPackages(List<String> cmd, Path work) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<ProcessHandle> children = new ArrayList<>();
    StringBuilder console = new StringBuilder();
    try {
      CompletableFuture<Boolean> inPackages = new CompletableFuture<>();
      Thread reader = new Thread(() -> drain(p.getInputStream(), "==> packages", console, inPackages));
      reader.setDaemon(true);
      reader.start();
      assertTrue(inPackages.get(15, TimeUnit.MINUTES), "the build reached the package step: " + console);
      Thread.sleep(15_000); // well into apt-get inside the appliance
      assertTrue(p.isAlive(), console.toString());
      p.descendants().forEach(children::add);
      assertTrue(children.stream().anyMatch(h -> h.info().command().orElse("").contains("qemu")),
          "the appliance runs as a child of the build");
      Tools.run(List.of("kill", "-KILL", Long.toString(p.pid())));
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
      while (children.stream().anyMatch(ProcessHandle::isAlive) && Instant.now().isBefore(deadline)) {
        Thread.sleep(500);
      }
      assertTrue(children.stream().noneMatch(ProcessHandle::isAlive),
          "libguestfs' recovery process stops the appliance of a killed build");
    } finally {
      p.destroyForcibly();
      children.forEach(ProcessHandle::destroyForcibly);
    }
    assertEquals(1, runDirs(work).size(), "the killed build's work directory is still there, for now");
  }

  private static List<Path> runDirs(Path work) throws IOException {
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
