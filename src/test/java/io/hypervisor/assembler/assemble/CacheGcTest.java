package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.stepcache.StepCache;
import io.hypervisor.assembler.stepcache.StepKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cache gc}'s own rule for the step cache's layers, as the command runs it: a layer stays
 * while a lock file names its base and every package it holds (or it was used within the age),
 * its base blob stays with it, and the others go with the blobs nothing names.
 */
class CacheGcTest {
  @TempDir
  Path tmp;

  private static StepCache.Layer layer(StepCache cache, String name, Digest base, String pkg) throws Exception {
    StepKey key = StepKey.of(List.of("base " + base, "step packages", "  package " + name + " " + pkg));
    byte[] bytes = name.getBytes();
    try (StepCache.Staging s = cache.stage()) {
      Files.write(s.file(), bytes);
      return s.publish(new StepCache.Entry(key.digest().toString(), key.text(), base.toString(), "qcow2",
          "../../../blobs/sha256/" + base.encoded(), List.of(pkg), List.of("repositories", "packages"), bytes.length,
          Digest.sha256(bytes).encoded()));
    }
  }

  @Test
  void aLayerStaysWhileALockNamesItsBaseAndEveryPackage() throws Exception {
    Path dir = tmp.resolve("cache");
    ContentStore store = ContentStore.open(dir);
    Digest base = store.put("the base image".getBytes());
    Digest other = store.put("a blob no lock names".getBytes());
    StepCache cache = StepCache.open(dir);
    String named = "ab".repeat(32);
    String unnamed = "cd".repeat(32);
    StepCache.Layer kept = layer(cache, "kubelet", base, named);
    StepCache.Layer gone = layer(cache, "kubeadm", base, unnamed);
    Path locks = Files.createDirectories(tmp.resolve("locks"));
    Files.writeString(locks.resolve("worker.lock.json"), "{\"base\": {\"sha256\": \"" + base.encoded()
        + "\"}, \"packages\": [{\"name\": \"kubelet\", \"sha256\": \"" + named + "\"}]}");
    Settings settings = new Settings(dir, tmp.resolve("work"), Accelerator.TCG, Duration.ofMinutes(1), true, 1);

    CacheGc.Result recent = CacheGc.run(settings, locks, 7);
    assertEquals(2, recent.layers().kept(), "both used just now");
    assertEquals(0, recent.layers().removed());

    CacheGc.Result r = CacheGc.run(settings, locks, null);
    assertEquals(1, r.layers().kept());
    assertEquals(1, r.layers().removed(), "a package of it no lock names");
    assertTrue(cache.find(Digest.parse(kept.entry().key()), w -> { }).isPresent());
    assertTrue(cache.find(Digest.parse(gone.entry().key()), w -> { }).isEmpty());
    assertTrue(store.contains(base), "the kept layer's base");
    assertFalse(store.contains(other), "a blob nothing names");
  }
}
