package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.pkgrepo.TestKeys;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.SuiteImage;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.SuiteImages.Built;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.testworld.UsesImages;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The air-gap workflow on the test world, on the Debian 13 worker the suite builds that way
 * ({@link SuiteImage#WORKER_DEBIAN_13}): {@code assemble fetch} with the loopback registry and
 * repositories wrote a signed bundle with the base image (a download pinned by a signed
 * SHA512SUMS); {@code bundle ls|verify} read it, and so does skopeo; the site build, in an empty
 * network namespace with a fresh cache, was SIGKILLed in the package step (no output, the
 * appliance died with it), then ran again, swept the dead work directory and built the bundle's
 * lock exactly. A bundle missing an image and a package, one with a tampered blob and one checked
 * against the wrong key are refused before any image is touched, with every bad item named.
 */
@Tag("integration")
@UsesImages(SuiteImage.WORKER_DEBIAN_13)
class BundleIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  @Test
  void fetchThenBuildWithNoNetworkAtAll() throws Exception {
    Built site = SuiteImages.get(SuiteImage.WORKER_DEBIAN_13);
    var s = site.site();
    assertEquals(0, s.fetch().code(), s.fetch().out() + s.fetch().err());
    Path bundle = s.bundle();
    assertTrue(s.fetch().out().startsWith("wrote " + bundle), s.fetch().out());

    CliTest.Run ls = CliTest.run("bundle", "ls", bundle.toString());
    assertEquals(0, ls.code(), ls.err());
    assertTrue(ls.out().contains("kubelet 1.34.2-1.1") && ls.out().contains("registry.k8s.io/pause:3.10.1")
        && ls.out().contains("containerd.io 2.") && ls.out().contains("debian-13-generic.qcow2")
        && ls.out().contains(", signature present, not checked"), ls.out());
    CliTest.Run lsTrusted = CliTest.run("bundle", "ls", bundle.toString(), "--trust-key", s.trustKey().toString());
    assertTrue(lsTrusted.out().contains(", signature good"), lsTrusted.out());
    CliTest.Run verify = CliTest.run("bundle", "verify", bundle.toString(), "--trust-key", s.trustKey().toString());
    assertEquals(0, verify.code(), verify.out());
    // skopeo reads the images straight from the bundle, an OCI layout (ref.name is the tag, as containerd writes it)
    Tools.run(List.of("skopeo", "inspect", "--raw", "oci-archive:" + bundle + ":3.10.1")).ok();

    // The first site build was killed (SIGKILL: no shutdown hook runs) in the middle of the package step.
    var kill = s.kill();
    assertTrue(kill.reachedPackages(), "the build reached the package step: " + kill.console());
    assertTrue(kill.applianceWasChild(), "the appliance runs as a child of the build");
    assertTrue(kill.applianceGone(), "libguestfs' recovery process stops the appliance of a killed build");
    assertTrue(kill.outputAbsent(), "no output file after the kill");
    assertTrue(kill.manifestAbsent(), "no manifest after the kill");
    assertEquals(1, kill.workDirs(), "the killed build's work directory is still there, for now");

    // The second ran to the end with no network at all and swept the dead work directory.
    assertEquals(0, site.code(), site.out() + site.err());
    assertTrue(Files.exists(site.image()));
    try (Stream<Path> w = Files.list(s.work())) {
      assertEquals(List.of(), w.filter(p -> p.getFileName().toString().startsWith("build-")).toList(),
          "the killed build's work directory was swept");
    }
    // It built what the connected host locked: the same packages (version, sha256) and image digests.
    JsonNode lock = JSON.readTree(bundleEntry(bundle, "lock.json"));
    JsonNode m = JSON.readTree(site.manifest().toFile());
    assertEquals(names(lock.get("packages")), names(m.get("packages")), "the bundle's packages, exactly");
    assertEquals(lock.get("images"), m.get("images"), "the bundle's image digests");
    for (JsonNode i : m.get("images")) {
      assertEquals(Fixtures.published(i.get("ref").asText()).digest(), i.get("digest").asText());
    }
    assertTrue(site.err().contains("following the lock"), site.err());

    // Broken bundles are refused before an image is touched, every problem named.
    Path broken = tmp.resolve("broken.tar");
    String pause = Fixtures.published("registry.k8s.io/pause:3.10.1").digest().substring("sha256:".length());
    JsonNode kubectl = null;
    for (JsonNode p : m.get("packages")) {
      if (p.get("name").asText().equals("kubectl")) {
        kubectl = p;
      }
    }
    rewrite(bundle, broken, Set.of("blobs/sha256/" + pause, "blobs/sha256/" + kubectl.get("sha256").asText()), null);
    CliTest.Run r = CliTest.run("--cache", tmp.resolve("c2").toString(), "--work", tmp.resolve("w2").toString(),
        "--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, s.recipe().toString(), "--bundle", broken.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("missing package kubectl 1.34.2-1.1"), r.err());
    assertTrue(r.err().contains("missing image-blob registry.k8s.io/pause:3.10.1"), r.err());
    assertFalse(Files.exists(site.image().resolveSibling("." + site.image().getFileName() + ".partial")));

    Path tampered = tmp.resolve("tampered.tar");
    rewrite(bundle, tampered, Set.of(), "blobs/sha256/" + kubectl.get("sha256").asText());
    CliTest.Run t = CliTest.run("bundle", "verify", tampered.toString());
    assertEquals(1, t.code(), t.out());
    assertTrue(t.out().contains("FAIL  bad package kubectl 1.34.2-1.1"), t.out());

    Path otherKey = tmp.resolve("other.asc");
    Files.write(otherKey, TestKeys.armoredPublicKey("Someone Else <else@example.org>"));
    CliTest.Run k = CliTest.run("--cache", tmp.resolve("c3").toString(), "--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS,
        s.recipe().toString(), "--bundle", bundle.toString(), "--trust-key", otherKey.toString());
    assertEquals(2, k.code(), k.err());
    assertTrue(k.err().contains("signature:"), k.err());
    assertFalse(Files.exists(tmp.resolve("c3/blobs/sha256/" + pause)), "nothing from an untrusted bundle is kept");
  }

  private static Set<String> names(JsonNode packages) {
    Set<String> s = new TreeSet<>();
    packages.forEach(p -> s.add(p.get("name").asText() + " " + p.get("version").asText() + " "
        + p.get("sha256").asText()));
    return s;
  }

  /** One small entry of a bundle (the lock), by its name's ending. */
  private static byte[] bundleEntry(Path bundle, String suffix) throws IOException {
    try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(bundle))) {
      for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        if (e.getName().endsWith(suffix)) {
          return in.readAllBytes();
        }
      }
    }
    throw new AssertionError("no *" + suffix + " in " + bundle);
  }

  /** Copies a tar as a stream, leaving out some entries and flipping the first byte of one. */
  private static void rewrite(Path from, Path to, Set<String> drop, String flip) throws IOException {
    try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(from));
        TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(to))) {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      out.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        if (drop.contains(e.getName())) {
          continue;
        }
        TarArchiveEntry c = new TarArchiveEntry(e.getName());
        c.setSize(e.getSize());
        out.putArchiveEntry(c);
        if (e.getName().equals(flip)) {
          int first = in.read();
          out.write(first ^ 1);
        }
        copy(in, out);
        out.closeArchiveEntry();
      }
    }
  }

  private static void copy(InputStream in, OutputStream out) throws IOException {
    byte[] buf = new byte[1 << 16];
    for (int n = in.read(buf); n > 0; n = in.read(buf)) {
      out.write(buf, 0, n);
    }
  }
}
