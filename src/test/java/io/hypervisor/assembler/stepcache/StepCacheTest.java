package io.hypervisor.assembler.stepcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache's own rules on files (the qcow2 side is StepLayersTest's): reuse, mismatch, corruption, races, gc. */
class StepCacheTest {
  @TempDir
  Path tmp;

  private static final StepKey KEY = StepKey.of(List.of("base sha256:aa qcow2 /b", "step packages", "  package a 1"));

  private StepCache.Layer put(StepCache cache, StepKey key, byte[] bytes, String backing) throws Exception {
    try (StepCache.Staging s = cache.stage()) {
      Files.write(s.file(), bytes);
      return s.publish(new StepCache.Entry(key.digest().toString(), key.text(), Digest.sha256(new byte[] {1}).toString(),
          "qcow2", backing, List.of("ab".repeat(32)), List.of("repositories", "packages"), bytes.length,
          Digest.sha256(bytes).encoded()));
    }
  }

  @Test
  void aPublishedLayerIsFoundByItsKeyAndAnotherKeyMisses() throws Exception {
    StepCache cache = StepCache.open(tmp);
    Files.write(tmp.resolve("base"), new byte[] {1});
    put(cache, KEY, "layer".getBytes(), "../../../base");
    Optional<StepCache.Layer> found = cache.find(KEY.digest(), w -> { throw new AssertionError(w); });
    assertTrue(found.isPresent());
    assertArrayEquals("layer".getBytes(), Files.readAllBytes(found.get().file()));
    assertEquals(KEY.text(), found.get().entry().keyText());
    assertTrue(cache.baseExists(found.get()), "the backing path is resolved from the layer's directory");
    StepKey other = StepKey.of(List.of("base sha256:aa qcow2 /b", "step packages", "  package a 2"));
    assertNotEquals(KEY.digest(), other.digest(), "one changed input, another key");
    assertTrue(cache.find(other.digest(), w -> { }).isEmpty());
    assertEquals(1, cache.list().size());
    try (var s = Files.list(tmp.resolve("steps/tmp"))) {
      assertEquals(0, s.count(), "nothing is left in tmp after a publish");
    }
  }

  @Test
  void aRecordBesideALayerIsKeptByIdAndGoesWithTheLayer() throws Exception {
    StepCache cache = StepCache.open(tmp);
    String id = "ab".repeat(32);
    cache.putRecord(KEY.digest(), id, "no layer yet");
    assertEquals(Optional.empty(), cache.record(KEY.digest(), id), "a record needs its layer");
    StepCache.Layer l = put(cache, KEY, "layer".getBytes(), "x");
    assertEquals(Optional.empty(), cache.record(KEY.digest(), id));
    assertFalse(cache.hasRecords(KEY.digest()), "none kept yet");
    cache.putRecord(KEY.digest(), id, "Kubernetes v1.34.2\n");
    assertTrue(cache.hasRecords(KEY.digest()));
    cache.putRecord(KEY.digest(), id, "Kubernetes v1.34.2\n"); // a second build keeps the same
    assertEquals(Optional.of("Kubernetes v1.34.2\n"), cache.record(KEY.digest(), id));
    assertEquals(Optional.empty(), cache.record(KEY.digest(), "cd".repeat(32)));
    assertThrows(IllegalArgumentException.class, () -> cache.record(KEY.digest(), "../entry.json"));
    assertThrows(IllegalArgumentException.class, () -> cache.putRecord(KEY.digest(), "../entry.json", "x"));
    try (var staged = Files.list(tmp.resolve("steps/tmp"))) {
      assertEquals(0, staged.count(), "nothing left in tmp");
    }
    Files.write(l.file(), "damaged".getBytes()); // a layer found corrupt is removed with all beside it
    assertEquals(Optional.empty(), cache.find(KEY.digest(), w -> { }));
    assertEquals(Optional.empty(), cache.record(KEY.digest(), id));
  }

  @Test
  void aDamagedFactsFileOrRecordReadsAsNoneAndIsRemoved() throws Exception {
    StepCache cache = StepCache.open(tmp);
    Digest base = Digest.sha256(new byte[] {7});
    cache.putFacts(base, "{\"os\":\"debian\"}".getBytes());
    assertEquals("{\"os\":\"debian\"}", new String(cache.facts(base).orElseThrow()));
    Path facts = tmp.resolve("steps/bases").resolve(base.encoded() + ".json");
    byte[] b = Files.readAllBytes(facts);
    b[b.length - 3] = 'X'; // still JSON-shaped, no longer what was written
    Files.write(facts, b);
    assertEquals(Optional.empty(), cache.facts(base), "a damaged file is as good as none");
    assertFalse(Files.exists(facts), "and goes, so the next build records good facts");
    Files.writeString(facts, "{\"os\":\"debian\"}"); // an older version's file, without its sha256
    assertEquals(Optional.empty(), cache.facts(base));

    put(cache, KEY, "layer".getBytes(), "x");
    String id = "ab".repeat(32);
    cache.putRecord(KEY.digest(), id, "Kubernetes v1.34.2\n");
    Path record = tmp.resolve("steps/layers").resolve(KEY.digest().encoded()).resolve("records").resolve(id);
    Files.write(record, Files.readString(record).replace("v1.34.2", "v1.34.9").getBytes());
    assertEquals(Optional.empty(), cache.record(KEY.digest(), id), "a record that was changed is not trusted");
    assertFalse(Files.exists(record));
    Files.write(record, new byte[0]); // torn before its first line ended
    assertEquals(Optional.empty(), cache.record(KEY.digest(), id));
  }

  @Test
  void aCorruptLayerIsRemovedAndReported() throws Exception {
    StepCache cache = StepCache.open(tmp);
    StepCache.Layer l = put(cache, KEY, "layer bytes".getBytes(), "x");
    byte[] b = Files.readAllBytes(l.file());
    b[3] ^= 1;
    Files.write(l.file(), b);
    List<String> warnings = new ArrayList<>();
    assertTrue(cache.find(KEY.digest(), warnings::add).isEmpty());
    assertEquals(1, warnings.size());
    assertTrue(warnings.get(0).contains("corrupt"), warnings.toString());
    assertFalse(Files.exists(l.file().getParent()), "the entry is gone: the next build makes it again");
    // an entry that cannot be read at all goes the same way
    StepCache.Layer again = put(cache, KEY, "layer bytes".getBytes(), "x");
    Files.writeString(again.file().resolveSibling("entry.json"), "{not json");
    assertTrue(cache.find(KEY.digest(), warnings::add).isEmpty());
    assertTrue(warnings.get(1).contains("unreadable"), warnings.toString());
  }

  @Test
  void twoBuildsPublishingOneKeyAtOnceLeaveOneWholeEntry() throws Exception {
    StepCache cache = StepCache.open(tmp);
    int n = 4;
    CyclicBarrier barrier = new CyclicBarrier(n);
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<StepCache.Layer>> results = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        results.add(pool.submit(() -> {
          try (StepCache.Staging s = cache.stage()) {
            Files.write(s.file(), "same content".getBytes());
            barrier.await();
            return s.publish(new StepCache.Entry(KEY.digest().toString(), KEY.text(), "sha256:" + "0".repeat(64),
                "qcow2", "x", List.of(), List.of("packages"), 12, Digest.sha256("same content".getBytes()).encoded()));
          }
        }));
      }
      for (Future<StepCache.Layer> f : results) {
        assertEquals(Path.of(tmp.resolve("steps/layers").toString(), KEY.digest().encoded(), "layer.qcow2"),
            f.get().file());
      }
    } finally {
      pool.shutdownNow();
    }
    assertTrue(cache.find(KEY.digest(), w -> { throw new AssertionError(w); }).isPresent());
    try (var s = Files.list(tmp.resolve("steps/tmp"))) {
      assertEquals(0, s.count(), "the losers removed their staging directories");
    }
  }

  @Test
  void aBuildKilledWhileStagingLeavesNothingVisibleAndGcClearsIt() throws Exception {
    StepCache cache = StepCache.open(tmp);
    StepCache.Staging killed = cache.stage(); // never published nor closed: as after kill -9
    Files.write(killed.file(), "half a layer".getBytes());
    assertTrue(cache.find(KEY.digest(), w -> { }).isEmpty());
    assertTrue(cache.list().isEmpty());
    StepCache.GcResult r = cache.gc(e -> true, null, d -> true);
    assertEquals(0, r.removed());
    try (var s = Files.list(tmp.resolve("steps/tmp"))) {
      assertEquals(0, s.count());
    }
  }

  @Test
  void gcKeepsWhatTheRulesKeepAndWhatWasUsedRecently() throws Exception {
    StepCache cache = StepCache.open(tmp);
    Files.write(tmp.resolve("base"), new byte[] {1});
    StepKey old = StepKey.of(List.of("old"));
    StepKey recent = StepKey.of(List.of("recent"));
    StepKey named = StepKey.of(List.of("named"));
    StepKey orphan = StepKey.of(List.of("orphan"));
    for (StepKey k : List.of(old, recent, named)) {
      put(cache, k, k.text().getBytes(), "../../../base");
    }
    put(cache, orphan, "o".getBytes(), "../../../no-such-base");
    Path oldEntry = tmp.resolve("steps/layers").resolve(old.digest().encoded()).resolve("entry.json");
    Files.setLastModifiedTime(oldEntry, FileTime.from(Instant.now().minus(Duration.ofDays(30))));
    Files.setLastModifiedTime(tmp.resolve("steps/layers").resolve(named.digest().encoded()).resolve("entry.json"),
        FileTime.from(Instant.now().minus(Duration.ofDays(30))));
    cache.putFacts(Digest.sha256(new byte[] {1}), "{}".getBytes());
    cache.putFacts(Digest.sha256(new byte[] {2}), "{}".getBytes());
    StepCache.GcResult r = cache.gc(e -> e.key().equals(named.digest().toString()),
        Instant.now().minus(Duration.ofDays(7)), d -> false);
    assertEquals(2, r.removed(), "the old unnamed layer and the one whose base is gone");
    assertEquals(2, r.kept());
    assertTrue(cache.find(recent.digest(), w -> { }).isPresent());
    assertTrue(cache.find(named.digest(), w -> { }).isPresent());
    assertTrue(cache.find(old.digest(), w -> { }).isEmpty());
    assertTrue(cache.facts(Digest.sha256(new byte[] {1})).isPresent(), "facts of a kept layer's base stay");
    assertTrue(cache.facts(Digest.sha256(new byte[] {2})).isEmpty(), "facts nothing needs go");
  }

  @Test
  void aTreeIsSavedBesideItsLayerOnceAndGoesWithIt() throws Exception {
    StepCache cache = StepCache.open(tmp);
    StepKey absent = StepKey.of(List.of("no layer"));
    cache.putTree(absent.digest(), dir -> Files.writeString(dir.resolve("index"), "x"));
    assertFalse(Files.exists(tmp.resolve("steps/layers").resolve(absent.digest().encoded())), "no layer, no tree");
    StepCache.Layer l = put(cache, KEY, "layer".getBytes(), "x");
    assertTrue(cache.tree(l).isEmpty());
    cache.putTree(KEY.digest(), dir -> Files.writeString(dir.resolve("index"), "first"));
    cache.putTree(KEY.digest(), dir -> Files.writeString(dir.resolve("index"), "second"));
    assertEquals("first", Files.readString(cache.tree(l).get().resolve("index")), "a tree there stays");
    cache.removeTree(l);
    assertTrue(cache.tree(l).isEmpty());
    assertThrows(java.io.IOException.class, () -> cache.putTree(KEY.digest(), dir -> {
      throw new java.io.IOException("disk full");
    }));
    assertTrue(cache.tree(l).isEmpty(), "a failed write leaves no tree");
    try (var s = Files.list(tmp.resolve("steps/tmp"))) {
      assertEquals(0, s.count(), "nothing staged is left behind, written, removed or failed");
    }
    assertTrue(cache.find(KEY.digest(), w -> { throw new AssertionError(w); }).isPresent(), "the layer stays");
    cache.putTree(KEY.digest(), dir -> Files.writeString(dir.resolve("index"), "again"));
    StepCache.GcResult gc = cache.gc(e -> false, null, d -> false);
    assertEquals(1, gc.removed());
    assertFalse(Files.exists(l.file().getParent()), "gc takes the tree with its layer");
  }

  @Test
  void keyLinesCannotBeForgedWithLineBreaks() {
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> StepKey.of(List.of("file /etc/x 644 sha\nstep packages")));
  }

  /**
   * One build at a time makes a key's layer: in this process a second claim waits (and says so)
   * until the first ends; another process's claim is held by the system's file lock, and a
   * process killed with SIGKILL while holding it leaves nothing that blocks the next build.
   */
  @Test
  void aClaimIsHeldByOneBuildAtATimeAndAKilledHolderLetsGo() throws Exception {
    StepCache cache = StepCache.open(tmp);
    String name = KEY.digest().encoded();
    java.util.concurrent.CountDownLatch waited = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean second = new java.util.concurrent.atomic.AtomicBoolean();
    Thread other;
    try (StepCache.Claim first = cache.claim(name, () -> { throw new AssertionError("nobody holds it"); })) {
      assertTrue(cache.tryClaim(name).isEmpty(), "held in this process");
      other = new Thread(() -> {
        try (StepCache.Claim c = cache.claim(name, waited::countDown)) {
          second.set(true);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      other.start();
      assertTrue(waited.await(10, java.util.concurrent.TimeUnit.SECONDS), "the second claim waits");
      Thread.sleep(200);
      assertFalse(second.get(), "not before the first ends");
    }
    other.join(10_000);
    assertTrue(second.get(), "after it");
    // a base pinned by sha512 (128 hex digits) names its claim too
    cache.claim("base-" + "ab".repeat(64), () -> { }).close();

    // another process holds it: this one waits, until that process is killed
    Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), ClaimHolder.class.getName(), tmp.toString(), name)
        .redirectErrorStream(true).start();
    try {
      java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream()));
      assertEquals("held", out.readLine());
      assertTrue(cache.tryClaim(name).isEmpty(), "held by the other process");
      java.util.concurrent.CompletableFuture<Boolean> after = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try (StepCache.Claim c = cache.claim(name, () -> { })) {
          return true;
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      Thread.sleep(300);
      assertFalse(after.isDone(), "waiting for the other process");
      new ProcessBuilder("kill", "-9", Long.toString(holder.pid())).start().waitFor();
      assertTrue(after.get(10, java.util.concurrent.TimeUnit.SECONDS), "a killed holder lets go");
      Optional<StepCache.Claim> again = cache.tryClaim(name);
      assertTrue(again.isPresent());
      again.get().close();
    } finally {
      holder.destroyForcibly();
    }
  }
}
