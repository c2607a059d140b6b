package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.stepcache.StepCache;
import io.hypervisor.assembler.stepcache.StepKey;
import io.hypervisor.assembler.steps.Step;
import io.hypervisor.assembler.steps.TreeStep;
import io.hypervisor.assembler.tree.RootTree;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One build's use of the step cache: the base's recorded facts, the key of the plan's leading
 * cacheable steps (repositories and packages: what every role of one patch shares), the layer to
 * start from, and after those steps on a miss a snapshot of the work disk made into a layer.
 */
final class StepLayers {
  /** The base as a layer's backing: its digest, format and the path a layer names it by. */
  record BaseRef(Digest digest, String format, String backing) {}

  private final StepCache cache;
  private final BaseRef base;
  private final EventSink events;

  private StepLayers(StepCache cache, BaseRef base, EventSink events) {
    this.cache = cache;
    this.base = base;
    this.events = events;
  }

  /**
   * The step cache of {@code cacheDir} for this base. A base in the content store is named
   * relative to the layer (the cache directory may move); a base elsewhere by its absolute path,
   * which is then part of the key (its digest is taken now, so a changed file never matches).
   */
  static StepLayers open(Path cacheDir, Path basePath, Digest baseDigest, String baseFormat, EventSink events)
      throws IOException {
    Path root = cacheDir.toAbsolutePath().normalize();
    Path file = basePath.toAbsolutePath().normalize();
    StepCache cache = StepCache.open(root);
    Digest digest = baseDigest;
    if (digest == null) {
      try (InputStream in = Files.newInputStream(file)) {
        digest = Digest.of("sha256", in);
      }
    }
    String backing = file.startsWith(root)
        ? cache.root().resolve("layers").resolve("key").relativize(file).toString()
        : file.toString();
    return new StepLayers(cache, new BaseRef(digest, baseFormat, backing), events);
  }

  /** The leading steps that can be cached (each states its inputs); none unless they install packages. */
  static List<Step> cacheable(List<Step> steps) {
    List<Step> prefix = new ArrayList<>();
    for (Step s : steps) {
      if (s.inputs() == null) {
        break;
      }
      prefix.add(s);
    }
    return prefix.stream().anyMatch(s -> s.name().equals("packages")) ? prefix : List.of();
  }

  /** Room a layer's disk leaves above the base's own size for what the cached steps install. */
  static final long ROOM = 4L << 30;

  /**
   * The disk size the cached steps run on, which their layer keeps: the base's virtual size in
   * whole GiB plus {@link #ROOM}, or the plan's disk where that is smaller (or where no step
   * installs packages). Not the plan's own size: the control plane's 20 GiB and the worker's
   * 40 GiB of one patch then start from one layer, and each grows its root the rest of the way
   * after it.
   */
  static long layerDisk(Plan plan, long baseVirtual) {
    if (!plan.steps().contains("packages")) {
      return plan.diskBytes();
    }
    long gib = 1L << 30;
    return Math.min(plan.diskBytes(), (baseVirtual + gib - 1) / gib * gib + ROOM);
  }

  /** The key of those steps on this base, the layer's disk size and epoch (null when no step can be cached). */
  StepKey key(List<Step> steps, long diskBytes, Instant epoch) {
    List<Step> cached = cacheable(steps);
    if (cached.isEmpty()) {
      return null;
    }
    StepKey.Builder b = new StepKey.Builder()
        .add("assemble", CatalogueManifest.VERSION, "step-cache", StepCache.FORMAT)
        .add("base", base.digest(), base.format(), base.backing())
        .add("disk", diskBytes)
        .add("environment", "SOURCE_DATE_EPOCH=" + epoch.getEpochSecond(), "TZ=UTC", "LC_ALL=C");
    for (Step s : cached) {
      b.add("step", s.name());
      b.addAll(s.inputs().stream().map(l -> "  " + l).toList());
    }
    return b.build();
  }

  /** The recorded facts of the base, or null (never recorded, or recorded by another version). */
  BaseFacts facts() throws IOException {
    return cache.facts(base.digest()).map(BaseFacts::parse).orElse(null);
  }

  void putFacts(BaseFacts facts) throws IOException {
    cache.putFacts(base.digest(), facts.json());
  }

  /**
   * Claims making the layer of {@code key}, waiting while another build makes it (then look again);
   * {@code blocking} runs too when it waits.
   */
  StepCache.Claim claim(StepKey key, Runnable blocking) throws IOException {
    return cache.claim(key.digest().encoded(), () -> {
      events.info("waiting for another build making the same step cache layer ("
          + key.digest().encoded().substring(0, 12) + ")");
      blocking.run();
    });
  }

  /** The same without waiting: empty when another build is making it. */
  Optional<StepCache.Claim> tryClaim(StepKey key) throws IOException {
    return cache.tryClaim(key.digest().encoded());
  }

  /** Claims reading this base's facts, waiting while another build reads them (then look again). */
  StepCache.Claim claimFacts(Runnable blocking) throws IOException {
    return cache.claim("base-" + base.digest().encoded(), () -> {
      events.info("waiting for another build reading the same base");
      blocking.run();
    });
  }

  /** The checked layer of this key, if the cache has one. */
  Optional<StepCache.Layer> find(StepKey key) throws IOException {
    return cache.find(key.digest(), events::warn);
  }

  /**
   * The work disk as the cached steps left it, made a layer: file systems unmounted and flushed,
   * the overlay copied, pointed at the base by the cache's own name for it, checked, hashed and
   * published by one rename. A failure costs this build nothing but the layer (said, not fatal).
   */
  void snapshot(ImageSession image, Path disk, StepKey key, List<String> packages, List<Step> steps) throws IOException {
    try (EventSink.Step s = events.step("step cache", "keeping the disk after " + names(steps))) {
      StepCache.Layer[] made = new StepCache.Layer[1];
      image.quiesced(() -> {
        try (StepCache.Staging staging = cache.stage()) {
          Files.copy(disk, staging.file());
          QemuImg.rebaseUnsafe(staging.file(), base.backing(), base.format());
          QemuImg.check(staging.file());
          String sha256;
          try (InputStream in = Files.newInputStream(staging.file())) {
            sha256 = Digest.of("sha256", in).encoded();
          }
          made[0] = staging.publish(new StepCache.Entry(key.digest().toString(), key.text(), base.digest().toString(),
              base.format(), base.backing(), packages, names(steps),
              Files.size(staging.file()), sha256));
        } catch (IOException e) {
          events.warn("the step cache could not keep this layer (" + e.getMessage() + "); the build goes on");
        }
      });
      s.ok(made[0] == null ? "not kept" : "layer " + key.digest().encoded().substring(0, 12) + ", "
          + (made[0].entry().size() >> 20) + " MiB");
    }
  }

  /**
   * The tree saved beside the layer, read and checked (index and contents against their
   * sha256), or null: none saved, or a damaged one, which is removed with a warning.
   */
  TreeStep.Earlier tree(StepCache.Layer layer) throws IOException {
    Optional<Path> dir = cache.tree(layer);
    if (dir.isEmpty()) {
      return null;
    }
    try {
      RootTree.Saved saved = RootTree.load(dir.get());
      return new TreeStep.Earlier(saved.tree(), saved.extra());
    } catch (IOException | RuntimeException e) {
      events.warn("the tree saved with the cached layer " + layer.entry().key().substring(7, 19) + " is unusable ("
          + e.getMessage() + "); removed, the whole root file system is read");
      cache.removeTree(layer);
      return null;
    }
  }

  /**
   * Saves the tree a build read from a disk that started at the layer of {@code key}, with the
   * paths it changed after that start (a later build from the layer reads those again). A
   * failure costs the next build a full read, nothing more (said, not fatal).
   */
  void saveTree(StepKey key, RootTree tree, Set<String> changedSinceLayer) {
    try (EventSink.Step s = events.step("step cache", "keeping the tree of the layer's files")) {
      try {
        cache.putTree(key.digest(), dir -> tree.save(dir, changedSinceLayer));
        s.ok(tree.entries().size() + " paths, " + changedSinceLayer.size() + " changed after the layer");
      } catch (IOException e) {
        events.warn("the step cache could not keep the tree (" + e.getMessage() + "); the build goes on");
        s.ok("not kept");
      }
    }
  }

  /**
   * Keeps what the verify's binaries script printed in a build from (or making) the layer of
   * {@code key}, under {@code id} (the script and the binaries' sha256): a later build from the
   * layer that launches no appliance answers that check from it. A failure is said, not fatal.
   */
  void recordBinaries(StepKey key, String id, String output) {
    try {
      cache.putRecord(key.digest(), id, output);
    } catch (IOException e) {
      events.warn("the step cache could not keep the binaries' versions (" + e.getMessage() + "); the build goes on");
    }
  }

  /** Whether the layer of {@code key} has any such record yet. */
  boolean hasRecords(StepKey key) throws IOException {
    return cache.hasRecords(key.digest());
  }

  /** That record, if a build kept it. */
  Optional<String> recordedBinaries(StepKey key, String id) throws IOException {
    return cache.record(key.digest(), id);
  }

  static List<String> names(List<Step> steps) {
    return steps.stream().map(Step::name).toList();
  }
}
