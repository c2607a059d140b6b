package io.hypervisor.assembler.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Image archives and the content store under attack: device and FIFO entries, sparse entries,
 * a small gzip bomb, a FIFO lying in the store where a blob belongs; and the offline rule for
 * {@code pull} and {@code seed} (no registry is ever asked). Each ends fast, in exit 2 and one
 * line, with the store holding only verified content.
 */
class HostileArchiveTest {
  static final Duration FAST = Duration.ofSeconds(60);

  @TempDir
  Path dir;

  Path cache() {
    return dir.resolve("cache");
  }

  long storeBytes() throws IOException {
    Path blobs = cache().resolve("blobs");
    if (!Files.exists(blobs)) {
      return 0;
    }
    try (Stream<Path> s = Files.walk(blobs)) {
      return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  @Test
  void deviceAndFifoEntriesRefuseTheWholeArchive() throws IOException {
    for (byte type : new byte[] {TarConstants.LF_FIFO, TarConstants.LF_CHR, TarConstants.LF_BLK}) {
      Path tar = dir.resolve("special-" + (char) type + ".tar");
      try (OutputStream o = Files.newOutputStream(tar); TarArchiveOutputStream t = new TarArchiveOutputStream(o)) {
        TarArchiveEntry ok = new TarArchiveEntry("index.json");
        byte[] b = "{}".getBytes(StandardCharsets.UTF_8);
        ok.setSize(b.length);
        t.putArchiveEntry(ok);
        t.write(b);
        t.closeArchiveEntry();
        t.putArchiveEntry(new TarArchiveEntry("blobs/sha256/dev", type));
        t.closeArchiveEntry();
      }
      Cli.refused(2, "is a device or fifo; refusing the archive", FAST, "--cache", cache().toString(), "inspect",
          tar.toString());
    }
  }

  @Test
  void aSparseEntryRefusesTheArchive() throws IOException {
    Path tar = Files.write(dir.resolve("sparse.tar"), HostileBundleTest.sparseEntry("layer.tar", 8L << 30));
    Cli.refused(2, "is a sparse file; refusing the archive", FAST, "--cache", cache().toString(), "inspect",
        tar.toString());
    assertEquals(0, storeBytes(), "nothing entered the content store");
  }

  @Test
  void aSmallGzipBombIsStoppedLongBeforeItFillsTheStore() throws IOException {
    Path bomb = dir.resolve("bomb.tar.gz");
    long zeros = 256L << 20;
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(bomb), 1 << 16);
        TarArchiveOutputStream t = new TarArchiveOutputStream(o)) {
      TarArchiveEntry e = new TarArchiveEntry("abc123/layer.tar");
      e.setSize(zeros);
      t.putArchiveEntry(e);
      byte[] buf = new byte[1 << 20];
      for (long n = 0; n < zeros; n += buf.length) {
        t.write(buf);
      }
      t.closeArchiveEntry();
    }
    assertTrue(Files.size(bomb) < 2 << 20, "a small file: " + Files.size(bomb));
    Cli.refused(2, "a decompression bomb?", FAST, "--cache", cache().toString(), "inspect", bomb.toString());
    assertTrue(storeBytes() < 1 << 20, "the content store holds no expanded data: " + storeBytes());
    try (Stream<Path> s = Files.walk(cache())) {
      assertTrue(s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum() < 80L << 20,
          "no partial file was left growing in the cache");
    }
  }

  /** A legacy docker save: manifest.json, a config, one layer.tar. */
  Path dockerSave() throws IOException {
    byte[] layer = HostileBundleTest.tar(new HostileBundleTest.Entry("hello", "hello\n".getBytes(StandardCharsets.UTF_8)));
    String config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
        + Digest.sha256(layer) + "\"]},\"config\":{}}";
    String manifest = "[{\"Config\":\"cfg.json\",\"RepoTags\":[\"example.org/hello:1\"],\"Layers\":[\"l1/layer.tar\"]}]";
    return Files.write(dir.resolve("hello-docker-save.tar"), HostileBundleTest.tar(
        new HostileBundleTest.Entry("manifest.json", manifest.getBytes(StandardCharsets.UTF_8)),
        new HostileBundleTest.Entry("cfg.json", config.getBytes(StandardCharsets.UTF_8)),
        new HostileBundleTest.Entry("l1/layer.tar", layer)));
  }

  @Test
  void dockerSaveLayersLandAsReadableAsEveryOtherBlob() throws IOException {
    Path tar = dockerSave();
    Cli.Run r = Cli.run(FAST, "--cache", cache().toString(), "inspect", tar.toString());
    assertEquals(0, r.code(), r.err());
    try (Stream<Path> s = Files.walk(cache().resolve("blobs"))) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p.toString());
      }
    }
  }

  @Test
  void aFifoWhereABlobBelongsIsNotWaitedOnByCacheVerify() throws Exception {
    ContentStore store = ContentStore.open(cache());
    Digest good = store.put("a real blob".getBytes(StandardCharsets.UTF_8));
    Path fake = store.path(Digest.sha256("what the fifo pretends to be".getBytes(StandardCharsets.UTF_8)));
    Files.createDirectories(fake.getParent());
    Cli.fifo(fake);
    Cli.Run r = Cli.run(FAST, "--cache", cache().toString(), "cache", "verify");
    Cli.clear(r);
    assertFalse(Files.exists(fake), "the FIFO is removed as a corrupt blob: " + r.out() + r.err());
    assertTrue(store.contains(good));
  }

  @Test
  void pullAndSeedOfflineNeverAskARegistryAndUseTheImagesDir() throws Exception {
    try (HostileRegistry registry = new HostileRegistry()) {
      String mirror = "example.org=" + registry.url();
      Cli.refused(2, "network access refused (--offline)", FAST, "--cache", cache().toString(), "--offline", "pull",
          "--mirror", mirror, "example.org/hello:1");
      Cli.refused(2, "network access refused (--offline)", FAST, "--cache", cache().toString(), "--offline", "seed",
          "--mirror", mirror, "--images", "example.org/hello:1", "--root", dir.resolve("root").toString());
      assertEquals(List.of(), registry.requests(), "no request reached the registry");

      // With the image's tarball in --images-dir, both work offline.
      Path images = Files.createDirectories(dir.resolve("images"));
      Files.move(dockerSave(), images.resolve("hello.tar"));
      Cli.Run pull = Cli.run(FAST, "--cache", cache().toString(), "--offline", "--images-dir", images.toString(),
          "pull", "--mirror", mirror, "example.org/hello:1");
      assertEquals(0, pull.code(), pull.err());
      Cli.Run seed = Cli.run(FAST, "--cache", cache().toString(), "--offline", "--images-dir", images.toString(),
          "seed", "--mirror", mirror, "--images", "example.org/hello:1", "--root", dir.resolve("root").toString());
      assertEquals(0, seed.code(), seed.err());
      assertTrue(Files.exists(dir.resolve("root/io.containerd.metadata.v1.bolt/meta.db")));
      assertEquals(List.of(), registry.requests(), "still no request reached the registry");
    }
  }
}
