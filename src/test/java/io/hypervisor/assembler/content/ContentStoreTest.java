package io.hypervisor.assembler.content;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContentStoreTest {
  @TempDir
  Path dir;

  static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void aVerifiedIngestAppearsUnderItsDigest() throws IOException {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(100_000, 1);
    Digest d = Digest.sha256(data);
    try (Ingest in = s.ingest(d, data.length)) {
      in.write(ByteBuffer.wrap(data));
      assertFalse(s.contains(d), "nothing under the blob name before commit");
      in.commit();
    }
    assertTrue(s.contains(d));
    assertArrayEquals(data, s.read(d));
    assertNull(s.ingest(d, data.length), "present: nothing to ingest");
    assertEquals(List.of(d), s.list().stream().map(ContentStore.BlobInfo::digest).toList());
  }

  @Test
  void anAliasNamesTheSameBytesUnderAnotherAlgorithm() throws IOException {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(70_000, 9);
    Digest sha256 = s.put(data);
    Digest sha512 = s.alias(sha256, "sha512");
    assertEquals(Digest.of("sha512", new java.io.ByteArrayInputStream(data)), sha512);
    assertArrayEquals(data, s.read(sha512));
    assertEquals(sha256, s.alias(sha512, "sha256"), "and back, without a second file");
    assertEquals(sha512, s.alias(sha256, "sha512"), "idempotent");
    assertEquals(2, s.list().size(), "two names, no stray link files: " + s.list());
    assertEquals(Files.readAttributes(s.path(sha256), "unix:ino"), Files.readAttributes(s.path(sha512), "unix:ino"),
        "a hard link, no second copy");
  }

  @Test
  void wrongContentNeverGetsABlobName() throws IOException {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(1000, 2);
    Digest claimed = Digest.sha256(random(1000, 3));
    Ingest in = s.ingest(claimed, data.length);
    in.write(ByteBuffer.wrap(data));
    DigestMismatchException e = assertThrows(DigestMismatchException.class, in::commit);
    in.close();
    assertEquals(Digest.sha256(data), e.actual());
    assertFalse(s.contains(claimed));
    try (Stream<Path> partials = Files.list(dir.resolve("ingest"))) {
      assertEquals(0, partials.filter(p -> p.toString().endsWith(".partial")).count());
    }
    try (Ingest in2 = s.ingest(claimed, 10)) {
      assertThrows(DigestMismatchException.class, () -> in2.write(ByteBuffer.wrap(new byte[11])),
          "more bytes than the descriptor's size are refused at once");
    }
  }

  @Test
  void anInterruptedIngestResumesAfterRehashingWhatWasWritten() throws IOException {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(300_000, 4);
    Digest d = Digest.sha256(data);
    Ingest first = s.ingest(d, data.length);
    first.write(data, 0, 120_000);
    first.close(); // as if the process died here: the partial file stays
    ContentStore again = ContentStore.open(dir);
    try (Ingest second = again.ingest(d, data.length)) {
      assertEquals(120_000, second.offset());
      second.write(data, 120_000, data.length - 120_000);
      second.commit();
    }
    assertArrayEquals(data, again.read(d));
  }

  @Test
  void aPartialLongerThanTheBlobIsDiscarded() throws IOException {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(1000, 5);
    Digest d = Digest.sha256(data);
    Files.write(dir.resolve("ingest").resolve("sha256-" + d.encoded() + ".partial"), random(5000, 6));
    try (Ingest in = s.ingest(d, data.length)) {
      assertEquals(0, in.offset());
    }
  }

  @Test
  void corruptionIsDetectedOnVerifiedReadsAndTheBlobRemoved() throws IOException {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(50_000, 7);
    Digest d = s.put(data);
    assertTrue(s.verify(d));
    byte[] bad = data.clone();
    bad[100] ^= 1;
    Files.write(s.path(d), bad);
    try (InputStream in = s.openVerified(d, data.length)) {
      DigestMismatchException e = assertThrows(DigestMismatchException.class, () -> in.transferTo(
          java.io.OutputStream.nullOutputStream()));
      assertTrue(e.getMessage().contains("is corrupt"), e.getMessage());
    }
    assertFalse(s.contains(d), "a corrupt blob is removed so the next fetch replaces it");
  }

  @Test
  void concurrentIngestsOfOneDigestWriteItOnce() throws Exception {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(2_000_000, 8);
    Digest d = Digest.sha256(data);
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    List<Integer> wrote = new CopyOnWriteArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      int id = i;
      Thread t = new Thread(() -> {
        try (Ingest in = s.ingest(d, data.length)) {
          if (in != null) {
            for (int off = 0; off < data.length; off += 65536) {
              in.write(data, off, Math.min(65536, data.length - off));
            }
            in.commit();
            wrote.add(id);
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      });
      threads.add(t);
      t.start();
    }
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(List.of(), errors);
    assertEquals(1, wrote.size(), "one writer; the others found the finished blob");
    assertArrayEquals(data, s.read(d));
  }

  @Test
  void gcKeepsWhatIsListedOrYoungAndRefusesDuringABuild() throws Exception {
    ContentStore s = ContentStore.open(dir);
    Digest keep = s.put(random(10, 9));
    Digest drop = s.put(random(10, 10));
    Digest young = s.put(random(10, 11));
    Files.setLastModifiedTime(s.path(keep), java.nio.file.attribute.FileTime.fromMillis(0));
    Files.setLastModifiedTime(s.path(drop), java.nio.file.attribute.FileTime.fromMillis(0));
    try (AutoCloseable lease = s.lease()) {
      IOException e = assertThrows(IOException.class, () -> s.gc(Set.of(keep), Duration.ofDays(1)));
      assertTrue(e.getMessage().contains("in use by a running build"));
    }
    ContentStore.GcResult r = s.gc(Set.of(keep), Duration.ofDays(1));
    assertEquals(List.of(drop), r.removed());
    assertTrue(s.contains(keep) && s.contains(young) && !s.contains(drop));
  }

  @Test
  void contentOfUnknownDigestIsNamedByItsHash() throws IOException {
    ContentStore s = ContentStore.open(dir);
    byte[] data = random(12345, 12);
    Digest d = s.putUnknown(new java.io.ByteArrayInputStream(data));
    assertEquals(Digest.sha256(data), d);
    assertArrayEquals(data, s.read(d));
  }
}
