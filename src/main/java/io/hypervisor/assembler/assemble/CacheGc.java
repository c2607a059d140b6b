package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.oci.Wire;
import io.hypervisor.assembler.stepcache.StepCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code assemble cache gc}: keeps every blob a lock file under a directory references (image
 * digests with everything reachable from them: index, manifests, configs, layers; package
 * sha256s), and everything used within the last N days; removes the rest, and prunes the step
 * cache's layers by the same rules.
 */
public final class CacheGc {
  private static final Pattern DIGEST = Pattern.compile("sha256:([0-9a-f]{64})");
  private static final Pattern SHA_FIELD = Pattern.compile("\"sha256\"\\s*:\\s*\"([0-9a-f]{64})\"");

  private CacheGc() {}

  /** Digests named in lock files ({@code *.lock.json}) under {@code dir}. */
  static Set<Digest> named(Path dir) throws IOException {
    Set<Digest> out = new LinkedHashSet<>();
    if (dir == null) {
      return out;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path f : s.filter(p -> p.getFileName().toString().endsWith(".lock.json")).toList()) {
        String text = Files.readString(f);
        for (Pattern p : new Pattern[] {DIGEST, SHA_FIELD}) {
          Matcher m = p.matcher(text);
          while (m.find()) {
            out.add(Digest.ofSha256Hex(m.group(1)));
          }
        }
      }
    }
    return out;
  }

  /** The named digests plus every blob reachable from a manifest or index among them. */
  static Set<Digest> closure(Set<Digest> roots, ContentStore store) throws IOException {
    Set<Digest> keep = new LinkedHashSet<>(roots);
    Deque<Digest> todo = new ArrayDeque<>(roots);
    while (!todo.isEmpty()) {
      Digest d = todo.pop();
      if (!store.contains(d) || store.size(d) > (4L << 20)) {
        continue;
      }
      String type;
      byte[] bytes;
      try {
        bytes = store.read(d);
        type = Wire.sniffMediaType(bytes);
      } catch (IOException e) {
        continue; // not JSON: a layer or a package
      }
      if (type == null) {
        continue;
      }
      if (MediaType.isIndex(type)) {
        for (Wire.DescriptorJson c : Wire.index(bytes).manifests()) {
          Digest cd = Digest.parse(c.digest());
          if (keep.add(cd)) {
            todo.push(cd);
          }
        }
      } else if (MediaType.isManifest(type)) {
        Wire.ManifestJson m = Wire.manifest(bytes);
        if (m.config() != null) {
          keep.add(Digest.parse(m.config().digest()));
        }
        if (m.layers() != null) {
          m.layers().forEach(l -> keep.add(Digest.parse(l.digest())));
        }
      }
    }
    return keep;
  }

  /** What gc removed and kept: blobs, and layers of the step cache. */
  public record Result(ContentStore.GcResult blobs, StepCache.GcResult layers) {}

  /**
   * Runs gc; {@code keepDays} null = no age rule. Layers follow the blobs' rules: kept when a lock
   * file names their base and every package they hold, or when used within the age; their bases
   * are kept with them; a layer whose base is gone goes too. All under the store's exclusive lock.
   */
  public static Result run(Settings settings, Path locksDir, Integer keepDays) {
    try {
      ContentStore store = ContentStore.open(settings.cacheDir());
      StepCache layers = StepCache.open(settings.cacheDir());
      Set<Digest> named = named(locksDir);
      Duration age = keepDays == null ? null : Duration.ofDays(keepDays);
      java.time.Instant cutoff = age == null ? null : java.time.Instant.now().minus(age);
      java.util.function.Predicate<StepCache.Entry> keepLayer = e -> named.contains(Digest.parse(e.base()))
          && e.packages().stream().allMatch(p -> named.contains(Digest.ofSha256Hex(p)));
      return store.exclusive(() -> {
        Set<Digest> keep = closure(named, store);
        for (StepCache.Layer l : layers.list()) {
          if (keepLayer.test(l.entry()) || (cutoff != null && l.lastUsed().isAfter(cutoff))) {
            keep.add(Digest.parse(l.entry().base()));
          }
        }
        ContentStore.GcResult blobs = store.gcHeld(keep, age);
        return new Result(blobs, layers.gc(keepLayer, cutoff, store::contains));
      });
    } catch (IOException e) {
      throw AssemblerException.failed("cache gc of " + settings.cacheDir() + ": " + e.getMessage(),
          "if a build is running, wait for it to end");
    }
  }
}
