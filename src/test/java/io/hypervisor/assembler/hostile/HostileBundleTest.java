package io.hypervisor.assembler.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.Digest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Air-gap bundles made by hand to hurt: a name that climbs out of the work directory, entries
 * that declare gigabytes they do not hold (sparse, or just lying), fields that are null or not
 * hex, a signature nobody checked. Each is refused in seconds with exit 2 and one line, nothing
 * is written outside the cache and work directories, and nothing unverified enters the store.
 */
class HostileBundleTest {
  static final Duration FAST = Duration.ofSeconds(30);

  @TempDir
  Path dir;

  /** One tar entry: name, declared size, content (may be shorter than declared: the tar then lies). */
  record Entry(String name, byte[] data) {}

  static byte[] tar(Entry... entries) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(b)) {
      t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Entry e : entries) {
        TarArchiveEntry te = new TarArchiveEntry(e.name());
        te.setSize(e.data().length);
        t.putArchiveEntry(te);
        t.write(e.data());
        t.closeArchiveEntry();
      }
    }
    return b.toByteArray();
  }

  static String manifest(String name, String items) {
    return "{\"format\": 1, \"name\": " + name + ", \"items\": [" + items + "]}";
  }

  static String item(String path, String kind, String name, String sha, long size) {
    return "{\"path\": " + path + ", \"kind\": \"" + kind + "\", \"name\": \"" + name + "\", \"sha256\": " + sha
        + ", \"size\": " + size + "}";
  }

  static final byte[] LOCK = "{\"formatVersion\": 1}".getBytes(StandardCharsets.UTF_8);

  Path recipe() throws IOException {
    return Files.writeString(dir.resolve("r.yaml"), HostileRecipeTest.OK);
  }

  /** Runs the site build from a bundle with this test's cache and work; checks nothing appeared elsewhere. */
  Cli.Run site(Path bundle, String says) throws IOException {
    Path outside = dir.resolve("outside");
    Files.createDirectories(outside.resolve("work"));
    Set<String> before = Cli.tree(outside);
    Cli.Run r = Cli.refused(2, says, FAST, "--cache", outside.resolve("cache").toString(), "--work",
        outside.resolve("work").toString(), recipe().toString(), "--bundle", bundle.toString());
    Set<String> after = Cli.tree(outside);
    after.removeIf(p -> p.startsWith("cache") || p.startsWith("work"));
    before.removeIf(p -> p.startsWith("cache") || p.startsWith("work"));
    assertEquals(before, after, "nothing outside the cache and work directories");
    try (var s = Files.walk(outside)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().contains("escaped")), "no escaped file anywhere");
    }
    return r;
  }

  @Test
  void aNameThatClimbsOutOfTheWorkDirectoryIsRefused() throws IOException {
    String sha = Digest.sha256(LOCK).encoded();
    Path b = Files.write(dir.resolve("b.tar"), tar(new Entry("bundle.json",
        manifest("\"x/../../escaped\"", item("\"lock.json\"", "lock", "lock.json", "\"" + sha + "\"", LOCK.length))
            .getBytes(StandardCharsets.UTF_8)), new Entry("lock.json", LOCK)));
    site(b, "name must be a plain image name");
  }

  @Test
  void nullAndNonHexFieldsAreInputErrorsNotCrashes() throws IOException {
    Path nonHex = Files.write(dir.resolve("h.tar"), tar(new Entry("bundle.json", manifest("\"w\"",
        item("\"blobs/sha256/zz\"", "package", "kubelet", "\"zz\"", 3)).getBytes(StandardCharsets.UTF_8))));
    Cli.refused(2, "sha256 is not 64 lower-case hex digits", FAST, "bundle", "verify", nonHex.toString());
    Path nulls = Files.write(dir.resolve("n.tar"), tar(new Entry("bundle.json", manifest("null",
        item("null", "package", "kubelet", "null", 3)).getBytes(StandardCharsets.UTF_8))));
    Cli.refused(2, "path, kind, name and sha256 are required", FAST, "bundle", "ls", nulls.toString());
    Path notJson = Files.write(dir.resolve("j.tar"), tar(new Entry("bundle.json", "null".getBytes())));
    Cli.refused(2, "bundle format missing", FAST, "bundle", "ls", notJson.toString());
    Path garbage = Files.write(dir.resolve("g.tar"), tar(new Entry("bundle.json", "{{{".getBytes())));
    Cli.refused(2, "is not a bundle manifest", FAST, "bundle", "ls", garbage.toString());
  }

  /** A GNU sparse header: a few KB on disk, 8 GiB declared. */
  static byte[] sparseEntry(String name, long realSize) {
    byte[] h = new byte[512];
    put(h, 0, name);
    put(h, 100, "0000644");
    put(h, 108, "0000000");
    put(h, 116, "0000000");
    put(h, 124, String.format("%011o", 512));
    put(h, 136, String.format("%011o", 0));
    h[156] = 'S';
    put(h, 257, "ustar  ");
    put(h, 386, String.format("%011o", 0));
    put(h, 398, String.format("%011o", 512));
    put(h, 483, String.format("%011o", realSize));
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte x : h) {
      sum += x & 0xff;
    }
    put(h, 148, String.format("%06o", sum));
    h[154] = 0;
    h[155] = ' ';
    byte[] all = new byte[512 + 512 + 1024];
    System.arraycopy(h, 0, all, 0, 512);
    java.util.Arrays.fill(all, 512, 1024, (byte) '{');
    return all;
  }

  private static void put(byte[] h, int off, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(b, 0, h, off, b.length);
  }

  @Test
  void sparseAndLyingEntriesAreRefusedWithoutReadingWhatTheyClaim() throws IOException {
    Path sparse = Files.write(dir.resolve("s.tar"), sparseEntry("bundle.json", 8L << 30));
    Cli.refused(2, "is not a plain file", FAST, "bundle", "verify", sparse.toString());
    site(sparse, "is not a plain file");

    // lock.json listed as 18 bytes, its entry 12 MiB: refused from the header, never read into memory
    byte[] big = new byte[12 << 20];
    String sha = Digest.sha256(LOCK).encoded();
    Path lying = Files.write(dir.resolve("l.tar"), tar(new Entry("bundle.json", manifest("\"w\"",
        item("\"lock.json\"", "lock", "lock.json", "\"" + sha + "\"", 18)).getBytes(StandardCharsets.UTF_8)),
        new Entry("lock.json", big)));
    Cli.Run v = Cli.run(FAST, "bundle", "verify", lying.toString());
    assertEquals(1, v.code(), v.out() + v.err());
    Cli.clear(v);
    assertTrue(v.out().contains("the entry is " + big.length + " bytes, the manifest says 18"), v.out());
  }

  @Test
  void aSignatureThatWasNotCheckedIsNotCalledSigned() throws IOException {
    byte[] m = manifest("\"w\"", "").getBytes(StandardCharsets.UTF_8);
    Path b = Files.write(dir.resolve("sig.tar"), tar(new Entry("bundle.json", m),
        new Entry("bundle.json.asc", "-----BEGIN PGP SIGNATURE-----\nnot a signature\n".getBytes())));
    Cli.Run ls = Cli.run(FAST, "bundle", "ls", b.toString());
    assertEquals(0, ls.code(), ls.err());
    assertTrue(ls.out().contains("signature present, not checked"), ls.out());
    assertFalse(ls.out().matches("(?s).*\\bsigned\\b.*"), ls.out());
  }

  @Test
  void aBundleThatIsNotATarIsOneClearLine() throws IOException {
    Path junk = dir.resolve("junk.tar");
    try (OutputStream o = Files.newOutputStream(junk)) {
      o.write(new byte[4096]);
    }
    Cli.refused(2, "not an assemble bundle", FAST, "bundle", "ls", junk.toString());
    Cli.refused(2, "not a regular file", FAST, "bundle", "ls", "/dev/zero");
  }
}
