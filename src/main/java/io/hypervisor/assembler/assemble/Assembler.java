package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.containerd.StoreOptions;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.fetch.Fetcher;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.Distro;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.model.Problem;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.pkgrepo.apt.DebFile;
import io.hypervisor.assembler.pkgrepo.apt.DpkgRuns;
import io.hypervisor.assembler.pkgrepo.apt.PackagesIndex;
import io.hypervisor.assembler.pkgrepo.rpm.RpmFile;
import io.hypervisor.assembler.plan.Attestor;
import io.hypervisor.assembler.publish.VagrantBox;
import io.hypervisor.assembler.plan.BuildRecord;
import io.hypervisor.assembler.plan.ContainerdRelease;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.LockFile;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.PlanPrinter;
import io.hypervisor.assembler.steps.CleanupStep;
import io.hypervisor.assembler.steps.CloudInitStep;
import io.hypervisor.assembler.steps.ContainerdConfigStep;
import io.hypervisor.assembler.steps.FinishStep;
import io.hypervisor.assembler.steps.ImageFile;
import io.hypervisor.assembler.steps.ImageStoreStep;
import io.hypervisor.assembler.steps.KernelStep;
import io.hypervisor.assembler.steps.PackagesStep;
import io.hypervisor.assembler.steps.RepositoriesStep;
import io.hypervisor.assembler.steps.SelinuxRelabelStep;
import io.hypervisor.assembler.steps.SelinuxStep;
import io.hypervisor.assembler.steps.ServicesStep;
import io.hypervisor.assembler.steps.Step;
import io.hypervisor.assembler.steps.SwapStep;
import io.hypervisor.assembler.steps.TreeStep;
import io.hypervisor.assembler.tree.Ext4Reader;
import io.hypervisor.assembler.stepcache.StepCache;
import io.hypervisor.assembler.stepcache.StepKey;
import io.hypervisor.assembler.sys.Posix;
import io.hypervisor.assembler.tree.Ext4Rebuild;
import io.hypervisor.assembler.tree.RootTree;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The main job, as an ordered list of named phases: base image, work overlay, one appliance
 * (grown, inspected), lock (given or resolved against the image), fetch (the only network use),
 * the plan's steps (the static verify in the same appliance before the tree is read), then the
 * compressed output written under a temporary name, checked, compared with the disk it came from
 * and only then renamed, with its catalogue manifest beside it. A failure or interrupt
 * at any point leaves the previous output and the content store as they were.
 */
public final class Assembler {
  /**
   * How to build: a lock to follow exactly (null: resolve now), where to save the lock used (may
   * be null), and who writes the documents beside the image (SBOMs, provenance, checksums).
   */
  public record Options(Path lockFile, Path writeLock, Attestor attestor, boolean stepCache) {
    public Options {
      attestor = attestor == null ? Attestor.NONE : attestor;
    }

    public Options(Path lockFile, Path writeLock, Attestor attestor) {
      this(lockFile, writeLock, attestor, true);
    }

    public Options(Path lockFile, Path writeLock) {
      this(lockFile, writeLock, Attestor.NONE, true);
    }

    /** The same, with the step cache on or off. */
    public Options withStepCache(boolean on) {
      return new Options(lockFile, writeLock, attestor, on);
    }
  }

  /** A finished build: the image, its manifest, sha256 and size, the verify checks, and each phase's time. */
  public record Result(Path image, Path manifest, String sha256, long size, List<Check> checks,
      Map<String, Duration> timings) {}

  private final Settings settings;
  private final EventSink events;
  private final HttpSettings http;
  private final Map<String, String> environment;
  private final Map<String, Duration> timings = new LinkedHashMap<>();

  public Assembler(Settings settings, EventSink events, HttpSettings http, Map<String, String> environment) {
    this.settings = settings;
    this.events = events;
    this.http = http;
    this.environment = environment;
  }

  /** The base image's digest for this build (set when it starts; one Assembler runs one build at a time). */
  private java.util.concurrent.CompletableFuture<Digest> baseHash;

  /** The run's appliance slots this build gives back while it waits for another build's claim. */
  private Slots slots = Slots.NONE;

  /** The same assembler, sharing {@code slots} with the run's other builds (see {@link Slots}). */
  public Assembler sharing(Slots s) {
    this.slots = s;
    return this;
  }

  /** With default HTTP behaviour (offline when the settings say so) and the process environment. */
  public Assembler(Settings settings, EventSink events) {
    this(settings, events, HttpSettings.defaults().withOffline(settings.offline()), System.getenv());
  }

  /**
   * How several builds share the host: at most {@code slots} appliances at once, each with
   * {@code guestCpus} virtual CPUs. Under TCG a guest's virtual CPU is a host core's worth of
   * emulation, so one guest per core, one CPU each; with KVM the cores are split by the CPUs asked.
   */
  public record Parallel(int slots, int guestCpus) {}

  /** The parallel shape for {@code builds} builds on this host (probes the accelerator once). */
  public static Parallel parallel(Settings settings, EventSink events, int builds, boolean cpusGiven) {
    return parallel(Locker.accelerator(settings, events), Runtime.getRuntime().availableProcessors(), builds,
        settings.guestCpus(), cpusGiven);
  }

  /** The same for an accelerator, a core count and the CPUs per guest asked ({@code cpusGiven}) or by default. */
  static Parallel parallel(Accelerator accel, int cores, int builds, int guestCpus, boolean cpusGiven) {
    int n = Math.max(1, cores);
    int cpus = cpusGiven ? guestCpus : accel == Accelerator.TCG ? 1 : guestCpus;
    int slots = Math.max(1, Math.min(builds, accel == Accelerator.TCG ? n : n / cpus));
    return new Parallel(slots, cpus);
  }

  /** A phase's body. */
  @FunctionalInterface
  private interface Phase<T> {
    T run() throws IOException;
  }

  /**
   * Host work started on a thread of its own, beside what the build does meanwhile (the TCG
   * appliance and most host phases use one core; the machine has more): hashes, checks, copies.
   */
  static <T> java.util.concurrent.CompletableFuture<T> beside(String name, Phase<T> body) {
    java.util.concurrent.CompletableFuture<T> f = new java.util.concurrent.CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        f.complete(body.run());
      } catch (Throwable e) {
        f.completeExceptionally(e);
      }
    }, "assemble-" + name);
    t.setDaemon(true);
    t.start();
    return f;
  }

  /** The result of {@link #beside} work, its IOException (or error) as thrown there. */
  static <T> T joined(java.util.concurrent.CompletableFuture<T> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while waiting for host work");
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof RuntimeException r) {
        throw r;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IOException(c);
    }
  }

  private <T> T timed(String name, Phase<T> body) throws IOException {
    long t = System.nanoTime();
    try {
      return body.run();
    } finally {
      timings.merge(name, Duration.ofNanos(System.nanoTime() - t), Duration::plus);
    }
  }

  public Result build(Plan plan, Options o) {
    List<String> errors = plan.warnings().stream().filter(w -> w.severity() == Problem.Severity.ERROR)
        .map(Problem::render).toList();
    if (!errors.isEmpty()) {
      throw AssemblerException.input("the plan has errors: " + String.join("; ", errors), "fix the recipe");
    }
    Lock given = o.lockFile() == null ? null : LockFile.read(o.lockFile());
    if (given != null && !LockFile.mismatch(given, plan).isEmpty()) {
      throw AssemblerException.input("the lock " + o.lockFile() + " does not answer this plan: "
          + String.join("; ", LockFile.mismatch(given, plan)), "lock again: assemble plan RECIPE --lock " + o.lockFile());
    }
    Path output = Path.of(plan.output().path()).toAbsolutePath();
    Path partial = output.resolveSibling("." + output.getFileName() + ".partial");
    Path work;
    try {
      Files.createDirectories(output.getParent());
      work = WorkDirs.create(settings.workDir(), "build-");
    } catch (IOException e) {
      throw AssemblerException.host("cannot create the work or output directory: " + e.getMessage(),
          "check that --work DIR and the output directory are writable");
    }
    // Ctrl-C or kill runs shutdown hooks but not finally blocks: the hook removes the partial
    // output and the work overlay then (libguestfs' recovery process stops the appliance).
    Thread cleanup = new Thread(() -> {
      deleteQuietly(partial);
      WorkDirs.delete(work);
    }, "assemble-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      ContentStore store = ContentStore.open(settings.cacheDir());
      try (AutoCloseable lease = store.lease()) {
        try (PackageFiles packageFiles = new PackageFiles(store, work.resolve("packages"), events)) {
          return build(plan, given, o, store, work, output, partial, packageFiles);
        }
      }
    } catch (AssemblerException e) {
      throw e;
    } catch (IOException e) {
      throw AssemblerException.failed("building " + plan.name() + ": " + e.getMessage(),
          "the content store keeps what was fetched; run again once the cause is fixed (--debug shows more)", e);
    } catch (Exception e) {
      throw AssemblerException.failed("building " + plan.name() + ": " + AssemblerException.describe(e),
          "--debug shows the trace", e);
    } finally {
      deleteQuietly(partial);
      WorkDirs.delete(work);
      try {
        Runtime.getRuntime().removeShutdownHook(cleanup);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs anyway
      }
    }
  }

  /** What the build settles before its steps run: from the base's facts, with or without an appliance. */
  private record Prepared(Lock lock, Plan plan, List<ImageRecord> images, List<Step> steps, Instant epoch,
      List<BuildRecord.BasePackage> basePackages, StepKey key) {}

  /**
   * The step cache claims one build holds: its base's facts while it reads them (until its key is
   * claimed), its key while it makes that layer; both end with the build at the latest.
   */
  private static final class Claims implements AutoCloseable {
    private StepCache.Claim facts;
    private StepCache.Claim key;

    void endFacts() throws IOException {
      if (facts != null) {
        facts.close();
        facts = null;
      }
    }

    void endKey() throws IOException {
      if (key != null) {
        key.close();
        key = null;
      }
    }

    @Override
    public void close() throws IOException {
      try {
        endKey();
      } finally {
        endFacts();
      }
    }
  }

  private Result build(Plan planned, Lock given, Options o, ContentStore store, Path work, Path output, Path partial,
      PackageFiles packageFiles) throws IOException {
    try (Claims claims = new Claims()) {
      return build(planned, given, o, store, work, output, partial, packageFiles, claims);
    }
  }

  private Result build(Plan planned, Lock given, Options o, ContentStore store, Path work, Path output, Path partial,
      PackageFiles packageFiles, Claims claims) throws IOException {
    Fetcher fetcher = new Fetcher(store, http, environment, events);
    Fetcher.Base base = timed("base", () -> fetcher.base(planned.base(), given));
    // A base given by its path alone is hashed once, on a thread of its own: the step cache's key
    // waits for it, the build record at the end finds it done (each read the file again before).
    baseHash = base.digest() != null ? java.util.concurrent.CompletableFuture.completedFuture(base.digest())
        : beside("base-digest", () -> {
          try (InputStream in = Files.newInputStream(base.path())) {
            return Digest.of("sha256", in);
          }
        });
    String baseFormat = DiskFormat.of(base.path());
    // The disk the packages go onto, which a step cache layer keeps: the same for every role.
    long baseVirtual = QemuImg.virtualSize(base.path()); // asked once: ~30 ms each
    long layerDisk = StepLayers.layerDisk(planned, baseVirtual);
    StepLayers layers = o.stepCache() ? timed("step cache", () -> StepLayers.open(settings.cacheDir(), base.path(),
        joined(baseHash), baseFormat, events)) : null;
    // With the base's facts recorded, the lock, the fetch and the key need no appliance: the one
    // launch can then start from a cached layer instead of the base.
    BaseFacts facts = layers == null ? null : layers.facts();
    if (layers != null && facts == null) {
      // One build reads a base at a time (several recipes in one run, or builds side by side):
      // the others wait for its facts, then for the layer it is making, and start from that.
      claims.facts = timed("step cache", () -> slots.aside(layers::claimFacts));
      facts = layers.facts();
      if (facts != null) {
        claims.endFacts();
      }
    }
    Prepared prepared = null;
    StepCache.Layer layer = null;
    if (facts != null) {
      checkOs(facts.os(), planned);
      prepared = prepare(planned, given, o, facts, fetcher, base, store, work, layers, packageFiles, layerDisk);
      if (prepared.key() != null) {
        StepKey key = prepared.key();
        layer = timed("step cache", () -> layers.find(key)).orElse(null);
        if (layer == null) {
          claims.key = timed("step cache", () -> slots.aside(blocking -> layers.claim(key, blocking)));
          layer = timed("step cache", () -> layers.find(key)).orElse(null); // made while this build waited
          if (layer != null) {
            claims.endKey();
          }
        }
      }
    }
    // The .debs' zstd rewrite runs beside the launch, and only when the packages step will run
    // (a warm build's layer has them installed; the rewrite would only take the appliance's core).
    if (layer == null) {
      if (prepared != null) {
        packageFiles.start(prepared.lock());
      } else if (given != null) {
        packageFiles.start(given);
      }
    }
    if (layer != null && prepared != null) {
      Result r = withoutAppliance(prepared, layer, facts, base, o, layers, work, output, partial);
      if (r != null) {
        return r;
      }
    }
    Path disk = work.resolve("disk.qcow2");
    Path from = layer != null ? layer.file() : base.path();
    String fromFormat = layer != null ? "qcow2" : baseFormat;
    boolean onLayer = layer != null;
    timed("overlay", () -> {
      try (EventSink.Step s = events.step("overlay", from.getFileName().toString())) {
        // a layer's disk may be larger than this build's (another role's): the overlay is this build's size
        long bytes = onLayer ? planned.diskBytes() : Math.max(planned.diskBytes(), baseVirtual);
        QemuImg.overlay(from, fromFormat, disk, bytes, true);
        s.ok((bytes >> 30) + " GiB virtual");
      }
      return null;
    });
    Accelerator accel = Locker.accelerator(settings, events);
    Reproduction reproduction = null;
    ImageSession.Partition rootPartition = null;
    List<ImageSession.Partition> diskPartitions = new ArrayList<>(); // parted: ~0.8 s under TCG, so read once
    Verified checks = null;
    TreeStep.Earlier earlier = null;
    GuestfsSession.Options launch = GuestfsSession.Options.build(disk, accel, settings.launchTimeout(), work,
        p -> Posix.mkfifo(p, 0600)).withCpus(settings.guestCpus());
    // With the base's facts its inspection is known (11-13 s under TCG): the layer has its layout.
    GuestfsSession.Options known = facts == null ? launch : launch.withKnownOs(facts.os());
    // Without a layer the root grows to the layer's disk for the packages, then the rest of the
    // way after them (growRoot), as a build starting from the layer grows it at its launch: the
    // same operations on the same disk, whichever role made the layer and with the cache on or off.
    boolean grownShort = layer == null && layerDisk < planned.diskBytes();
    boolean hostGrow = false; // the rest of the way, on the host after finish (growsOnHost)
    GuestfsSession.Options opening = grownShort ? known.growingTo(layerDisk) : known;
    try {
      try (GuestfsSession image = timed("launch", () -> GuestfsSession.open(opening, events))) {
        if (facts == null) {
          checkOs(image.os(), planned);
          boolean partitions = layers != null || planned.output().reproducible();
          long epoch = baseEpoch(image);
          // a copy: the list is read again once the root has grown the rest of the way
          List<ImageSession.Partition> parts = partitions ? List.copyOf(partitions(image, diskPartitions)) : List.of();
          String root = image.os().mountpoints().get("/");
          // qemu-img hashes the partitions outside the root on the host while the appliance reads the files
          var outside = beside("outside-root", () -> outsideRoot(base.path(), baseFormat, parts, root, work));
          facts = BaseFacts.read(image, planned, epoch, outside);
          if (layers != null) {
            layers.putFacts(facts);
          }
          prepared = prepare(planned, given, o, facts, fetcher, base, store, work, layers, packageFiles, layerDisk);
          if (prepared.key() != null && layers != null) {
            StepKey key = prepared.key();
            claims.key = timed("step cache", () -> layers.tryClaim(key)).orElse(null);
          }
          claims.endFacts(); // the facts are kept, and its layer claimed: the next build may come
          packageFiles.start(prepared.lock()); // the files the fetch just added (started once each)
        }
        Prepared p = prepared;
        image.environment(Map.of("SOURCE_DATE_EPOCH", Long.toString(p.epoch().getEpochSecond()), "TZ", "UTC",
            "LC_ALL", "C"));
        List<Step> cached = p.key() == null ? List.of() : StepLayers.cacheable(p.steps());
        List<Step> onLayerDisk = StepLayers.cacheable(p.steps());
        boolean shortRoot = grownShort;
        if (shortRoot && onLayerDisk.isEmpty()) {
          timed("grow", () -> {
            image.growRoot();
            return null;
          });
          diskPartitions.clear(); // the root's partition grew
          shortRoot = false;
        }
        for (Step step : p.steps()) {
          if (step instanceof TreeStep t) {
            // The checklist reads the finished file systems in this appliance, before the tree is
            // read from them: a second appliance on the written file would boot again only to read
            // the same files (the output is compared with this disk after the convert instead).
            checks = timed("verify", () -> verify(image, p.plan(), p.lock()));
            rootPartition = timed("tree", () -> rootPartition(image, diskPartitions));
            if (hostReads(rootPartition)) {
              t.readOnHost(); // whole, from the closed disk
              // decided now, so a root that is rebuilt from its tree is not clamped in place first
              reproduction = timed("reproduction", () -> reproduction(p.plan(), image, p.steps(), diskPartitions));
              if (reproduction.bytes()) {
                t.rebuiltFromTree();
                p.steps().stream().filter(FinishStep.class::isInstance).map(FinishStep.class::cast)
                    .forEach(FinishStep::leaveUntrimmed);
              }
            }
          }
          if (step instanceof FinishStep && reproduction == null) {
            // The tree is read (or will be, on the host); before the file systems close, decide
            // whether the disk can be the same bytes (the partitions outside the root are compared
            // on the host after finish).
            reproduction = timed("reproduction", () -> reproduction(p.plan(), image, p.steps(), diskPartitions));
          }
          applied(step, image, layer != null && cached.contains(step) ? layer : null);
          if (layer == null && !cached.isEmpty() && step == cached.get(cached.size() - 1)) {
            timed("step cache", () -> {
              layers.snapshot(image, disk, p.key(), p.lock().packages().stream().map(Lock.Package::sha256).toList(),
                  cached);
              return null;
            });
            claims.endKey(); // kept (or said why not): a build waiting for it looks again
          }
          if (shortRoot && step == onLayerDisk.get(onLayerDisk.size() - 1)) {
            // An ext4 root that is rebuilt from its tree grows on the host once the disk is
            // closed, as a build from the layer without an appliance does (HostGrow: the same
            // table and superblock); unmounting, e2fsck -f and resize2fs here cost 5-6 s of TCG.
            hostGrow = timed("grow", () -> growsOnHost(image, p, diskPartitions));
            if (!hostGrow) {
              timed("grow", () -> {
                image.growRoot();
                return null;
              });
              diskPartitions.clear(); // the root's partition grew
            }
            shortRoot = false;
          }
          if (!cached.isEmpty() && step == cached.get(cached.size() - 1)) {
            earlier = startingPoint(image, layers, layer, p.steps(), diskPartitions);
          }
          if (step instanceof TreeStep t && t.tree() != null) {
            keepTree(p, layers, t);
          }
        }
        timed("finish", () -> {
          image.close(); // unmount and shut down now: close errors mean the disk may be incomplete
          return null;
        });
      }
      if (reproduction == null || checks == null) {
        throw new IOException("the plan has no tree step before finish; its manifest cannot be written");
      }
      Prepared p = prepared;
      TreeStep treeStep = treeStep(p.steps());
      TreeStep deferred = treeStep != null && treeStep.deferred() ? treeStep : null;
      if (deferred != null) {
        ImageSession.Partition root = rootPartition;
        GuestfsSession.Options fallback = opening;
        reproduction = reproduction.withTree(timed("tree", () -> {
          RootTree tree = hostTree(deferred.epoch(), disk, root, work, fallback, events);
          deferred.read(tree);
          return tree;
        }));
        keepTree(p, layers, deferred);
        String reason = aclReason(reproduction.tree());
        if (reproduction.bytes() && reason != null) {
          events.warn("the image will be reproducible as a tree, not byte for byte: " + reason);
          reproduction = reproduction.asTree(reason);
        }
        if (!reproduction.bytes()) {
          Files.deleteIfExists(work.resolve(RAW));
        }
      }
      if (hostGrow && reproduction.bytes()) {
        Reproduction ungrown = reproduction;
        reproduction = timed("grow", () -> grownOnHost(ungrown, disk, p.plan().diskBytes(), work));
      }
      Reproduction pending = reproduction;
      Map<String, String> before = p.plan().output().reproducible() ? facts.outsideRoot() : Map.of();
      reproduction = timed("reproduction", () -> confirmed(pending, disk, before, work, events));
      boolean clamp = deferred != null && deferred.unclamped();
      if (!reproduction.bytes() && (clamp || hostGrow)) {
        // the output is this disk after all: its times must match the tree read from it, and a
        // root left to grow on the host grows here (the rare case pays the launch it saved)
        GuestfsSession.Options late = hostGrow ? opening.growingTo(0) : opening.grown();
        timed("tree", () -> {
          late(disk, late, clamp ? deferred : null, events);
          return null;
        });
        Files.deleteIfExists(work.resolve(RAW));
      }
      try (RootTree tree = reproduction.tree()) {
        if (p.key() != null && layers != null && checks.binaries() != null) {
          layers.recordBinaries(p.key(), binariesRecord(tree), checks.binaries());
        }
        Result r = output(p.plan(), p.lock(), disk, output, partial, new Made(p.images(), p.basePackages(), p.epoch(),
            hashed(base), o.attestor(), reproduction), work, checks.checks());
        return new Result(r.image(), r.manifest(), r.sha256(), r.size(), r.checks(), new LinkedHashMap<>(timings));
      }
    } finally {
      if (earlier != null) {
        earlier.tree().close(); // the tree above read from it until the output was written
      }
    }
  }

  /** The directories of the image's PATH where its shell finds the verify's binaries, as tree paths. */
  private static final List<String> BIN_DIRS = List.of("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin",
      "bin");

  /**
   * The id of a record of the verify's binaries script: the sha256 of the script and of every
   * file the image's shell could run under those names ({@code sha}: tree path to sha256, null
   * when no regular file is there). Equal ids: the same script on the same binaries.
   */
  static String binariesRecord(java.util.function.Function<String, String> sha) {
    StringBuilder b = new StringBuilder(Verifier.binariesScript());
    for (String name : Verifier.binaryNames()) {
      for (String d : BIN_DIRS) {
        b.append(d).append('/').append(name).append(' ').append(sha.apply(d + "/" + name)).append('\n');
      }
    }
    return Digest.sha256(b.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)).encoded();
  }

  private static String binariesRecord(RootTree tree) {
    Map<String, String> files = new java.util.HashMap<>();
    for (var e : tree.entries()) {
      if (e.type() == io.hypervisor.assembler.tree.TreeEntry.Type.FILE) {
        files.put(e.path(), e.sha256());
      }
    }
    return binariesRecord(files::get);
  }

  /**
   * A build from a step cache layer with no appliance at all, when everything after the layer
   * is file edits on an ext4 root that is rebuilt from its tree: the layer's disk as a raw file,
   * its partition table and root superblock read on the host, the root's tree read
   * ({@link Ext4Reader}), the steps applied to that tree in memory ({@link TreeImage}, with the
   * times the tree step's clamp would leave), the verify on it (the binaries' versions from the
   * record a build with an appliance kept for these very binaries), then the rebuild, convert,
   * compare and manifest as always. Null, with nothing left behind, whenever any of it needs the
   * appliance (a command, a hard-linked file, another file system, no record, a failed check,
   * partitions outside the root not the base's): the build then launches one as before.
   */
  private Result withoutAppliance(Prepared p, StepCache.Layer layer, BaseFacts facts, Fetcher.Base base, Options o,
      StepLayers layers, Path work, Path output, Path partial) throws IOException {
    TreeStep treeStep = treeStep(p.steps());
    List<Step> cached = StepLayers.cacheable(p.steps());
    // the dnf family's relabel runs the image's setfiles: that family builds in the appliance
    if (!p.plan().output().reproducible() || treeStep == null || cached.isEmpty() || p.key() == null
        || !p.plan().base().family().equals("apt")) {
      return null;
    }
    try {
      Ext4Rebuild.mke2fsVersion();
    } catch (IOException e) {
      return null;
    }
    Path raw = work.resolve(RAW);
    RootTree[] trees = new RootTree[2]; // the layer's, and the changed one (which reads the first's spool)
    boolean done = false;
    String rootDevice = facts.os().mountpoints().get("/");
    try (EventSink.Step all = events.step("no appliance", "the layer's root file system (" + rootDevice
        + ") read and changed on the host")) {
      try {
        Result r = onHost(p, layer, facts, base, o, layers, work, output, partial, cached, raw, trees);
        done = true;
        all.ok("no appliance launched");
        return r;
      } catch (NotOnHost e) {
        all.ok("an appliance is needed: " + e.getMessage());
        return null;
      } catch (IOException e) {
        if (needsAppliance(e) != null) {
          all.ok("an appliance is needed: " + needsAppliance(e).getMessage());
          return null;
        }
        throw e;
      }
    } finally {
      for (RootTree t : new RootTree[] {trees[1], trees[0]}) {
        if (t != null) {
          t.close();
        }
      }
      if (!done) {
        Files.deleteIfExists(raw);
        Files.deleteIfExists(work.resolve("root-tree.spool"));
      }
    }
  }

  /** One step applied to the image, timed, or said to come from the step cache's {@code layer} (non-null). */
  private void applied(Step step, ImageSession image, StepCache.Layer layer) throws IOException {
    if (layer != null) {
      try (EventSink.Step s = events.step(step.name(), null)) {
        s.ok("from the step cache (layer " + layer.entry().key().substring(7, 19) + ")");
      }
      return;
    }
    timed(step.name(), () -> {
      try (EventSink.Step s = events.step(step.name(), null)) {
        s.ok(step.apply(image, events));
      }
      return null;
    });
  }

  private static final String NO_RECORD = "no record of the verify's binaries on this layer yet (the next build has "
      + "it)";

  /** Why a build from a layer launches an appliance after all (nothing of the attempt stays). */
  private static final class NotOnHost extends Exception {
    NotOnHost(String why) {
      super(why);
    }
  }

  private static TreeImage.NeedsAppliance needsAppliance(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TreeImage.NeedsAppliance n) {
        return n;
      }
    }
    return null;
  }

  /** The build of {@link #withoutAppliance}; NotOnHost says why it stops (trees: what to close after). */
  private Result onHost(Prepared p, StepCache.Layer layer, BaseFacts facts, Fetcher.Base base, Options o,
      StepLayers layers, Path work, Path output, Path partial, List<Step> cached, Path raw,
      RootTree[] trees) throws IOException, NotOnHost {
    String rootDevice = facts.os().mountpoints().get("/");
    ImageSession.Partition root;
    List<ImageSession.Partition> partitions;
    Map<String, String> superblock;
    String recorded;
    String id;
    // before the layer is copied and read (~3 s): the layer's maker keeps its record when it ends,
    // after a build that waited for the layer has started from it
    if (!layers.hasRecords(p.key())) {
      throw new NotOnHost(NO_RECORD);
    }
    long t0 = System.nanoTime();
    try (EventSink.Step s = events.step("tree", "the layer's root file system read on the host")) {
      QemuImg.toRaw(layer.file(), raw);
      partitions = HostPartitions.read(raw).orElse(null);
      root = partitions == null ? null : partitions.stream().filter(x -> x.device().equals(rootDevice)).findFirst()
          .orElse(null);
      if (!hostReads(root)) {
        s.ok("not read");
        throw new NotOnHost("the root " + rootDevice + " is not an ext4 partition the host's reader finds");
      }
      // the layer's root ends at the layer's disk: grown the rest of the way, as at a launch
      Optional<HostGrow.Grown> grown;
      try {
        grown = HostGrow.grow(raw, root, p.plan().diskBytes(), work);
      } catch (IOException e) {
        s.ok("not read");
        throw new NotOnHost("growing the layer's root on the host: " + e.getMessage());
      }
      if (grown.isEmpty()) {
        s.ok("not read");
        throw new NotOnHost("the layer's partition table is not a GPT the host grows");
      }
      superblock = grown.get().superblock();
      if (grown.get().root().size() != root.size()) {
        root = grown.get().root();
        partitions = HostPartitions.read(raw).orElseThrow(() -> new IOException("the grown partition table of "
            + raw + " does not read back"));
      }
      try {
        trees[0] = Ext4Reader.tree(raw, root.start(), root.size(), work.resolve("root-tree.spool"),
            p.epoch().getEpochSecond());
      } catch (IOException e) {
        s.ok("not read");
        throw new NotOnHost(e.getMessage());
      }
      id = binariesRecord(trees[0]);
      try {
        recorded = layers.recordedBinaries(p.key(), id).orElse(null);
      } catch (IOException e) {
        recorded = null; // unreadable: as if none were kept
      }
      s.ok(TreeStep.summary(trees[0], -1));
    } finally {
      timings.merge("tree", Duration.ofNanos(System.nanoTime() - t0), Duration::plus);
    }
    if (recorded == null) {
      throw new NotOnHost(NO_RECORD);
    }
    List<Check> checks;
    try (TreeImage image = new TreeImage(trees[0], facts.os(), p.epoch().getEpochSecond(),
        Map.of(Verifier.binariesScript(), recorded), work, events)) {
      for (Step step : p.steps()) {
        if (step instanceof TreeStep) {
          break;
        }
        applied(step, image, cached.contains(step) ? layer : null);
        if (step == cached.get(cached.size() - 1)) {
          TreeStep.guestClock(image); // the appliance writes its clock probe here, which touches /var/tmp
        }
      }
      if (!binariesRecord(image::fileSha).equals(id)) {
        throw new NotOnHost("the steps changed the verify's binaries");
      }
      checks = timed("verify", () -> {
        try (EventSink.Step c = events.step("verify", "the finished tree")) {
          List<Check> found = new Verifier(image, p.plan(), p.lock()).run(events);
          List<Check> failed = found.stream().filter(x -> x.status() == Check.Status.FAIL).toList();
          c.ok(failed.isEmpty() ? found.size() + " checks passed" : failed.size() + " failed");
          return failed.isEmpty() ? found : null;
        }
      });
      if (checks == null) {
        throw new NotOnHost("a check failed on the tree; the appliance's verify says which");
      }
      trees[1] = timed("tree", () -> image.tree(work));
    }
    if (aclReason(trees[1]) != null) {
      throw new NotOnHost(aclReason(trees[1]));
    }
    List<ImageSession.Partition> parts = partitions;
    Map<String, String> now = timed("reproduction", () -> outsideRoot(raw, "raw", parts, rootDevice, work));
    if (!now.equals(facts.outsideRoot())) {
      throw new NotOnHost("the layer's disk differs from the base outside the root file system");
    }
    Reproduction reproduction = new Reproduction(trees[1], Ext4Rebuild.Params.of(superblock), root, null, parts);
    Result r = output(p.plan(), p.lock(), work.resolve("disk.qcow2"), output, partial, new Made(p.images(),
        p.basePackages(), p.epoch(), hashed(base), o.attestor(), reproduction), work, checks);
    return new Result(r.image(), r.manifest(), r.sha256(), r.size(), r.checks(), new LinkedHashMap<>(timings));
  }

  /**
   * Right after the cached steps (run, or taken from the layer): the guest's clock, from which
   * the tree step tells the paths this build changed, and the tree saved with the layer, from
   * which it takes the others. Without a clock the tree step reads everything, as before.
   */
  private TreeStep.Earlier startingPoint(ImageSession image, StepLayers layers, StepCache.Layer layer,
      List<Step> steps, List<ImageSession.Partition> known) throws IOException {
    TreeStep tree = treeStep(steps);
    if (tree == null) {
      return null;
    }
    long since;
    try {
      since = TreeStep.guestClock(image);
    } catch (IOException e) {
      events.debug("no clock in the image (" + e.getMessage() + "): the tree step reads the whole root");
      return null;
    }
    // a root the host reads whole needs no tree of the layer (and none was kept with it)
    boolean host = hostReads(timed("tree", () -> rootPartition(image, known)));
    TreeStep.Earlier earlier = layer == null || host ? null : timed("step cache", () -> layers.tree(layer));
    tree.since(since, earlier);
    return earlier;
  }

  /**
   * From the base's facts: the lock (given or resolved), the plan for the containerd it installs,
   * the fetch (the only network use), the steps with their options and the step cache's key.
   */
  private Prepared prepare(Plan planned, Lock given, Options o, BaseFacts facts, Fetcher fetcher, Fetcher.Base base,
      ContentStore store, Path work, StepLayers layers, PackageFiles packageFiles, long layerDisk) throws IOException {
    Locker.ImagePackages packages = facts.packages(planned);
    List<BuildRecord.BasePackage> basePackages = packages.installed().stream()
        .map(c -> new BuildRecord.BasePackage(c.name(), c.version(), c.arch())).toList();
    Lock locked = timed("lock", () -> lockFor(planned, given, packages, fetcher, base));
    if (o.writeLock() != null) {
      LockFile.write(locked, o.writeLock());
    }
    Plan effective = installedContainerd(planned, locked, packages);
    Map<String, byte[]> keyFiles = timed("fetch", () -> fetcher.keyFiles(effective, locked));
    timed("fetch", () -> {
      fetcher.packages(locked, effective, packages.files(), keyFiles);
      return null;
    });
    Instant epoch = epoch(facts.epoch(), () -> newestPackage(locked, effective.base().family(), store));
    List<ImageRecord> images = timed("fetch", () -> fetcher.images(effective, locked));
    List<Step> steps = steps(effective, locked, images, Fetcher.keyrings(effective, keyFiles), store, epoch, work,
        facts.newestChange(), packageFiles);
    StepKey key = layers == null ? null : layers.key(steps, layerDisk, epoch);
    return new Prepared(locked, effective, images, steps, epoch, basePackages, key);
  }

  /**
   * The tree step's result and what the disk can promise: "bytes" when the root file system can be
   * rebuilt from the tree (an ext4 partition, nothing else on the disk changed by the build, no
   * ACLs, e2fsprogs new enough) and the plan asks for it; else "tree", with the reason. A "bytes"
   * answer carries the disk's partitions, so {@link #confirmed} can compare all but the root's.
   */
  record Reproduction(RootTree tree, Ext4Rebuild.Params params, ImageSession.Partition root, String reason,
      List<ImageSession.Partition> partitions) {
    boolean bytes() {
      return params != null;
    }

    Reproduction asTree(String why) {
      return new Reproduction(tree, null, root, why, List.of());
    }

    Reproduction withTree(RootTree read) {
      return new Reproduction(read, params, root, reason, partitions);
    }
  }

  /** The plan's tree step, or null. */
  private static TreeStep treeStep(List<Step> steps) {
    return steps.stream().filter(TreeStep.class::isInstance).map(TreeStep.class::cast).findFirst().orElse(null);
  }

  /** Why a tree cannot become a rebuilt file system: the paths with POSIX ACLs; null when none has one. */
  private static String aclReason(RootTree tree) {
    List<String> acl = tree.aclPaths();
    return acl.isEmpty() ? null : acl.size() + " paths carry POSIX ACLs (e.g. /" + acl.get(0)
        + "), which a rebuilt file system would not keep";
  }

  /** The raw copy of the closed work disk: the host reads the root's tree from it, and the rebuild writes into it. */
  private static final String RAW = "disk.raw";

  /** The disk's partitions, read into {@code known} the first time (its layout does not change during a build). */
  private static List<ImageSession.Partition> partitions(ImageSession image, List<ImageSession.Partition> known)
      throws IOException {
    if (known.isEmpty()) {
      known.addAll(image.partitions());
    }
    return known;
  }

  /** Whether the host reads the root's tree from the closed disk: an ext4 partition (not LVM, xfs or btrfs). */
  private static boolean hostReads(ImageSession.Partition root) {
    return root != null && root.fsType().equals("ext4");
  }

  /** The partition holding the root file system (null when it is none: LVM), from the partitions read once. */
  private static ImageSession.Partition rootPartition(ImageSession image, List<ImageSession.Partition> known)
      throws IOException {
    String rootDevice = image.os().mountpoints().get("/");
    return partitions(image, known).stream().filter(p -> p.device().equals(rootDevice)).findFirst().orElse(null);
  }

  /**
   * The deferred tree: read from the closed disk's ext4 root on the host (a raw copy, which the
   * rebuild then writes into), at the host's disk speed instead of the appliance's ~30 MB/s; a
   * file system the host reader does not read (inline data, ACLs, ...) or fails on is read by GNU
   * tar in a read-only appliance instead, as before, with a warning.
   */
  static RootTree hostTree(long epoch, Path disk, ImageSession.Partition root, Path work,
      GuestfsSession.Options opening, EventSink events) throws IOException {
    try (EventSink.Step s = events.step("tree", "the root file system (" + root.device() + ") read on the host")) {
      Path raw = work.resolve(RAW);
      Path spool = work.resolve("root-tree.spool");
      QemuImg.toRaw(disk, raw);
      RootTree tree;
      try {
        tree = Ext4Reader.tree(raw, root.start(), root.size(), spool, epoch);
      } catch (IOException e) {
        // Unsupported: a feature the reader leaves to GNU tar; anything else: a file system the
        // host could not make sense of, which the kernel in the appliance may still read
        events.warn("the root file system is read in an appliance instead ("
            + (e instanceof Ext4Reader.Unsupported ? "" : "the host's reader failed: ") + e.getMessage() + ")");
        Files.deleteIfExists(raw);
        RootTree[] read = new RootTree[1];
        try (GuestfsSession ro = GuestfsSession.open(opening.asReadOnly(), events)) {
          ro.tarOutRoot(in -> read[0] = RootTree.read(in, spool, epoch));
        }
        tree = read[0];
      }
      s.ok(TreeStep.summary(tree, -1));
      return tree;
    }
  }

  /**
   * The tree step's clamp, in an appliance of its own, on a closed disk whose root was to be
   * rebuilt from its tree but will be the output as it is (ACLs, or a partition outside the root
   * changed, found once the disk was closed), and the trim the finish step left to the rebuild:
   * the rare case pays the launch the common one saves. {@code opening} grows the root when it was
   * left to grow on the host; {@code tree} null: nothing to clamp (the tree step clamped in place).
   */
  static void late(Path disk, GuestfsSession.Options opening, TreeStep tree, EventSink events) throws IOException {
    try (EventSink.Step s = events.step("tree", tree != null ? "file times after the epoch set back in the image"
        : "the root grown in the image")) {
      try (GuestfsSession image = GuestfsSession.open(opening, events)) {
        if (tree != null) {
          tree.clamp(image);
        }
        image.trim(); // the finish step left that to the rebuild too
      }
      s.ok(tree != null ? "set back to " + tree.epoch() + ", trimmed" : "grown, trimmed");
    }
  }

  /**
   * Whether the root, grown as far as the layer's disk, grows the rest of the way on the host
   * after finish ({@link #grownOnHost}) instead of here: an ext4 partition last in a GPT that
   * {@code Gpt} writes, rebuilt from its tree (as {@link #reproduction} will decide), with room
   * for the later steps' files (the seeded images four times over, unpacked, plus 1 GiB).
   */
  private boolean growsOnHost(GuestfsSession image, Prepared p, List<ImageSession.Partition> known)
      throws IOException {
    if (!p.plan().output().reproducible() || treeStep(p.steps()) == null) {
      return false;
    }
    ImageSession.Partition root = rootPartition(image, known);
    if (!hostReads(root) || !image.gpt().map(t -> t.last(root.number())).orElse(false)) {
      return false;
    }
    try {
      Ext4Rebuild.mke2fsVersion();
    } catch (IOException e) {
      return false;
    }
    long need = 4 * p.images().stream().mapToLong(ImageRecord::size).sum() + (1L << 30);
    long free = image.fileSystemFree("/");
    if (free < need) {
      events.info("the root grows now: the later steps may need " + (need >> 20) + " MiB, " + (free >> 20)
          + " MiB are free");
      return false;
    }
    events.debug("the root grows the rest of the way on the host, after finish");
    return true;
  }

  /**
   * The closed disk's raw copy with its root partition grown to the disk's end on the host
   * ({@link HostGrow}: the table and superblock the appliance's grow would leave), and the
   * rebuild's parameters from that superblock; the rebuild then fills the grown partition.
   */
  private Reproduction grownOnHost(Reproduction r, Path disk, long diskBytes, Path work) throws IOException {
    String what = "the root (" + r.root().device() + ") to the disk's end, on the host";
    try (EventSink.Step s = events.step("grow", what)) {
      Path raw = work.resolve(RAW);
      if (!Files.exists(raw)) { // the tree was read in an appliance
        QemuImg.toRaw(disk, raw);
      }
      HostGrow.Grown grown = HostGrow.grow(raw, r.root(), diskBytes, work).orElseThrow(() -> new IOException(
          "growing the root of " + disk + " on the host: its partition table no longer reads as the GPT it was"));
      s.ok("from " + (r.root().size() >> 20) + " MiB to " + (grown.root().size() >> 20) + " MiB");
      return new Reproduction(r.tree(), Ext4Rebuild.Params.of(grown.superblock()), grown.root(), null,
          r.partitions());
    }
  }

  /**
   * The tree of a cold build's layer, kept with it for the next warm build's partial read; not
   * for a root the host reads whole (its spool would double the layer's size in the cache).
   */
  private void keepTree(Prepared p, StepLayers layers, TreeStep t) throws IOException {
    if (p.key() != null && layers != null && !t.partialRead() && t.changed() != null && !t.readsOnHost()) {
      timed("step cache", () -> {
        layers.saveTree(p.key(), t.tree(), t.changed());
        return null;
      });
    }
  }

  /**
   * The decision as far as the open image can make it; a "bytes" answer still lists the
   * partitions outside the root, which {@link #confirmed} compares with the base on the host.
   */
  private Reproduction reproduction(Plan plan, ImageSession image, List<Step> steps,
      List<ImageSession.Partition> known) throws IOException {
    TreeStep step = treeStep(steps);
    if (step == null || (step.tree() == null && !step.deferred() && !step.readsOnHost())) {
      throw new IOException("the tree step did not run before finish");
    }
    RootTree tree = step.tree(); // null while it is to be read on the host
    if (!plan.output().reproducible()) {
      return new Reproduction(tree, null, null, "output.reproducible is false", List.of());
    }
    String rootDevice = image.os().mountpoints().get("/");
    ImageSession.Partition root = rootPartition(image, known);
    List<ImageSession.Partition> partitions = known; // read by rootPartition
    String reason = null;
    if (root == null) {
      reason = "the root file system (" + rootDevice + ") is not a partition of the disk (LVM?)";
    } else if (!root.fsType().equals("ext4")) {
      reason = "the root file system is " + root.fsType() + "; only ext4 is rebuilt from its tree";
    } else if (tree != null && aclReason(tree) != null) {
      reason = aclReason(tree);
    } else {
      try {
        Ext4Rebuild.mke2fsVersion();
      } catch (IOException e) {
        reason = e.getMessage() + " (tools/setup installs e2fsprogs from bookworm-backports)";
      }
    }
    if (reason != null) {
      events.warn("the image will be reproducible as a tree, not byte for byte: " + reason);
      return new Reproduction(tree, null, root, reason, List.of());
    }
    return new Reproduction(tree, Ext4Rebuild.Params.of(image.superblock(rootDevice)), root, null, partitions);
  }

  /**
   * The closed work disk still holds the base's bytes in every partition but the root's (the
   * rebuild replaces only the root's range), or the image is reproducible as a tree only.
   */
  static Reproduction confirmed(Reproduction r, Path disk, Map<String, String> before, Path work, EventSink events)
      throws IOException {
    if (!r.bytes()) {
      return r;
    }
    Map<String, String> now = outsideRoot(disk, "qcow2", r.partitions(), r.root().device(), work);
    if (now.equals(before)) {
      return r;
    }
    String reason = "the build changed the disk outside the root file system (partitions " + changed(before, now)
        + ")";
    events.warn("the image will be reproducible as a tree, not byte for byte: " + reason);
    return r.asTree(reason);
  }

  /**
   * sha256 of every partition but the root's (the build must leave them as the base had them),
   * read from the image file on the host.
   */
  static Map<String, String> outsideRoot(Path file, String format, List<ImageSession.Partition> partitions,
      String rootDevice, Path work) throws IOException {
    Map<String, String> out = new java.util.TreeMap<>();
    for (ImageSession.Partition p : partitions) {
      if (!p.device().equals(rootDevice)) {
        out.put(p.device(), QemuImg.rangeSha256(file, format, p.start(), p.size(), work.resolve("partition.raw")));
      }
    }
    return out;
  }

  private static String changed(Map<String, String> a, Map<String, String> b) {
    java.util.SortedSet<String> c = new java.util.TreeSet<>(a.keySet());
    c.addAll(b.keySet());
    c.removeIf(k -> java.util.Objects.equals(a.get(k), b.get(k)));
    return String.join(", ", c);
  }

  /**
   * The plan for the containerd the image really gets: the lock's package (or the base's own,
   * when the lock installs none) decides the config version and the store's schema, not the
   * recipe's wish. A line other than the planned one is said, not hidden.
   */
  Plan installedContainerd(Plan plan, Lock lock, Locker.ImagePackages packages) {
    if (plan.containerd() == null) {
      return plan;
    }
    Optional<ContainerdRelease> release = ContainerdRelease.of(lock);
    if (release.isEmpty()) {
      release = packages.installed().stream().filter(c -> ContainerdRelease.PACKAGES.contains(c.name()))
          .findFirst().flatMap(c -> ContainerdRelease.of(c.name(), c.version()));
    }
    if (release.isEmpty()) {
      events.warn("the lock installs no containerd package and the base has none; containerd's config and store "
          + "follow the planned line " + plan.containerd().line());
      return plan;
    }
    ContainerdRelease r = release.get();
    if (!r.line().toString().equals(plan.containerd().line())) {
      events.warn("the recipe plans containerd " + plan.containerd().line() + " but the image gets " + r.packageName()
          + " " + r.packageVersion() + ": config version " + r.line().configVersion() + " and metadata schema "
          + r.line().metadataVersion() + " follow the installed " + r.line());
    }
    return r.apply(plan);
  }

  /** The base must be what the recipe says it is: a Debian recipe on an Ubuntu image would build nonsense. */
  static void checkOs(ImageSession.OsInfo os, Plan plan) {
    checkOs(os, plan.base().distro(), plan.base().family());
  }

  /** The same for a recipe's {@code base.os} ({@code want}) and package family. */
  static void checkOs(ImageSession.OsInfo os, String want, String wantFamily) {
    boolean ok = Distro.parse(want).matches(os.distro(), os.major(), os.minor());
    String family = os.packageFormat().equals("deb") ? "apt" : os.packageFormat().equals("rpm") ? "dnf"
        : os.packageFormat();
    if (!ok || !family.equals(wantFamily)) {
      throw AssemblerException.input("the base image is " + os.distro() + " " + os.major() + "." + os.minor() + " ("
          + os.packageFormat() + "), but the recipe says base.os: " + want,
          "point base at a " + want + " image, or correct base.os");
    }
  }

  private Lock lockFor(Plan plan, Lock given, Locker.ImagePackages packages, Fetcher fetcher, Fetcher.Base base)
      throws IOException {
    if (given == null) {
      return new Locker(settings, events, http, environment).lock(plan, packages, fetcher, base.digest());
    }
    if (!given.installed().equals(packages.installedDigest())) {
      throw AssemblerException.input("the lock was made against another base image (package database "
          + given.installed() + "; this image has " + packages.installedDigest() + ")",
          "lock again against this base: assemble plan RECIPE --lock FILE");
    }
    events.info("following the lock: " + given.packages().size() + " packages, " + given.images().size() + " images");
    return given;
  }

  /** The plan's steps in its order, each with its options. */
  public static List<Step> steps(Plan plan, Lock lock, List<ImageRecord> images, Map<String, byte[]> keyrings,
      ContentStore store, Instant epoch, Path work, Long baseNewest) throws IOException {
    return steps(plan, lock, images, keyrings, store, epoch, work, baseNewest, p -> store.path(p.digest()));
  }

  /** The same, the packages step sending the package files {@code packageFiles} gives. */
  static List<Step> steps(Plan plan, Lock lock, List<ImageRecord> images, Map<String, byte[]> keyrings,
      ContentStore store, Instant epoch, Path work, Long baseNewest, PackagesStep.Files packageFiles)
      throws IOException {
    Map<String, List<ImageFile>> files = files(plan, keyrings);
    List<Step> out = new ArrayList<>();
    for (String name : plan.steps()) {
      out.add(switch (name) {
        case "repositories" -> new RepositoriesStep(new RepositoriesStep.Options(files.get("repositories")));
        case "packages" -> PackagesStep.sending(new PackagesStep.Options(plan.base().family(),
            lock.packages().stream().map(p -> new PackagesStep.PackageFile(p.name(), p.version(),
                Digest.ofSha256Hex(p.sha256()), p.size())).toList(),
            List.of("kubelet", "kubeadm", "kubectl"), dpkgRuns(plan, lock, store)), packageFiles);
        case "kernel" -> new KernelStep(new KernelStep.Options(files.get("kernel")));
        case "swap" -> new SwapStep(new SwapStep.Options(true));
        case "selinux-firewalld" -> new SelinuxStep(new SelinuxStep.Options("permissive"));
        case "services" -> new ServicesStep(new ServicesStep.Options(plan.units().enable(), plan.units().disable(),
            plan.units().mask()));
        case "containerd-config" -> new ContainerdConfigStep(new ContainerdConfigStep.Options(files.get("containerd")));
        case "image-store" -> new ImageStoreStep(new ImageStoreStep.Options(seed(plan, images, epoch)), store);
        case "cloud-init" -> new CloudInitStep(new CloudInitStep.Options(files.get("cloud-init")));
        case "cleanup" -> new CleanupStep(new CleanupStep.Options(List.of()));
        case "selinux-relabel" -> new SelinuxRelabelStep(new SelinuxRelabelStep.Options(baseNewest));
        case "tree" -> new TreeStep(new TreeStep.Options(epoch.getEpochSecond(), work));
        case "finish" -> new FinishStep(new FinishStep.Options());
        default -> throw new IllegalStateException("the plan names a step this assembler does not have: " + name);
      });
    }
    return out;
  }

  /**
   * For apt, the dpkg run of each of the lock's files, from their own control data (a
   * pre-dependency within the set puts a package into a later run); dnf orders its own.
   */
  static List<Integer> dpkgRuns(Plan plan, Lock lock, ContentStore store) throws IOException {
    if (!plan.base().family().equals("apt")) {
      return java.util.Collections.nCopies(lock.packages().size(), 0);
    }
    List<io.hypervisor.assembler.pkgrepo.Candidate> controls = new ArrayList<>();
    for (Lock.Package p : lock.packages()) {
      String what = p.name() + " " + p.version();
      controls.add(PackagesIndex.control(DebFile.control(store.path(Digest.ofSha256Hex(p.sha256())), what),
          lock.architecture(), what));
    }
    return DpkgRuns.of(controls);
  }

  /** The containerd store the plan's images make, as the plan's containerd will read it, stamped with the build's epoch. */
  public static ContainerdStore.Seed seed(Plan plan, List<ImageRecord> images, Instant epoch) {
    return new ContainerdStore.Seed(images, StoreOptions.forContainerd(plan.containerd().line(),
        plan.containerd().sandboxImage(), Platform.parse(plan.base().platform()), epoch));
  }

  /** The package databases whose time is a base image's own date (the first that exists counts). */
  static final List<String> PACKAGE_DATABASES = List.of("/var/lib/dpkg/status", "/usr/lib/sysimage/rpm/rpmdb.sqlite",
      "/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages", "/etc/os-release");

  /**
   * The build's epoch: {@code SOURCE_DATE_EPOCH} when set, else the newest input date (the base
   * image's package database, {@code inputs} for the packages, read only then), never the clock:
   * the same inputs give the same times in every file the build writes (the containerd store, the
   * SBOMs and provenance, the catalogue manifest).
   */
  Instant epoch(long baseEpoch, Phase<Long> inputs) throws IOException {
    String env = environment.get("SOURCE_DATE_EPOCH");
    if (env != null && !env.isBlank()) {
      if (!env.strip().matches("[0-9]{1,12}")) {
        throw AssemblerException.input("SOURCE_DATE_EPOCH=" + env + " is not a count of seconds",
            "give seconds since 1970, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)");
      }
      return Instant.ofEpochSecond(Long.parseLong(env.strip()));
    }
    return Instant.ofEpochSecond(Math.max(baseEpoch, inputs.run()));
  }

  /**
   * When the newest package the lock installs was built (0 for none), read from the fetched files.
   * The epoch is never older: the files a package brings keep their own times (rpm -V compares
   * them with its header) instead of being set back to the base's date.
   */
  static long newestPackage(Lock lock, String family, ContentStore store) throws IOException {
    long newest = 0;
    for (Lock.Package p : lock.packages()) {
      Path file = store.path(Digest.ofSha256Hex(p.sha256()));
      String what = p.name() + " " + p.version() + " (" + file + ")";
      newest = Math.max(newest, family.equals("apt") ? DebFile.buildTime(file, what) : RpmFile.buildTime(file, what));
    }
    return newest;
  }

  /** The base image's own date: the time of its package database. */
  static long baseEpoch(ImageSession image) throws IOException {
    for (String db : PACKAGE_DATABASES) {
      if (image.exists(db)) {
        return image.mtime(db);
      }
    }
    throw new IOException("the base image has no package database to take its date from; set SOURCE_DATE_EPOCH");
  }

  /** What the build made besides the disk, for the documents written beside it. */
  private record Made(List<ImageRecord> images, List<BuildRecord.BasePackage> basePackages, Instant epoch,
      Fetcher.Base base, Attestor attestor, Reproduction reproduction) {}

  /** The plan's files with their bytes, grouped by the step that writes them (also the benchmark's input). */
  public static Map<String, List<ImageFile>> files(Plan plan, Map<String, byte[]> keyrings) throws IOException {
    Map<String, List<ImageFile>> out = new LinkedHashMap<>();
    for (String s : List.of("repositories", "kernel", "containerd", "cloud-init")) {
      out.put(s, new ArrayList<>());
    }
    Map<String, String> keyringOwner = new LinkedHashMap<>();
    List<String> definitions = new ArrayList<>();
    for (Plan.Repository r : plan.repositories()) {
      keyringOwner.put(r.keyringPath(), r.name());
      definitions.add(r.definitionPath());
    }
    for (Plan.PlannedFile f : plan.files()) {
      int mode = Integer.parseInt(f.mode(), 8);
      byte[] content;
      if (f.content() != null) {
        content = f.content().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      } else if (keyringOwner.containsKey(f.path())) {
        content = keyrings.get(keyringOwner.get(f.path()));
      } else if (f.source() != null && f.source().startsWith("CA file ")) {
        content = io.hypervisor.assembler.model.SmallFiles.read(Path.of(f.source().substring("CA file ".length())),
            io.hypervisor.assembler.model.SmallFiles.KEY, "mirror CA file");
      } else {
        throw new IOException("no content for the planned file " + f.path() + " (" + f.source() + ")");
      }
      ImageFile file = new ImageFile(f.path(), mode, content);
      String step = keyringOwner.containsKey(f.path()) || definitions.contains(f.path()) ? "repositories"
          : f.path().startsWith("/etc/modules-load.d/") || f.path().startsWith("/etc/sysctl.d/") ? "kernel"
          : f.path().startsWith("/etc/containerd/") || f.path().equals("/etc/crictl.yaml") ? "containerd"
          : f.path().startsWith("/etc/cloud/") ? "cloud-init" : null;
      if (step == null) {
        throw new IOException("no step writes the planned file " + f.path());
      }
      out.get(step).add(file);
    }
    return out;
  }

  /** The checklist's results, and what its binaries script printed (null when it did not run). */
  private record Verified(List<Check> checks, String binaries) {}

  /**
   * The static verify on the build's own appliance, once every step that changes files has run:
   * a failure stops the build before anything is written, so the previous output stays.
   */
  private Verified verify(ImageSession image, Plan plan, Lock lock) {
    try (EventSink.Step s = events.step("verify", "the finished file systems")) {
      Verifier verifier = new Verifier(image, plan, lock);
      List<Check> all = verifier.run(events);
      List<Check> failed = all.stream().filter(c -> c.status() == Check.Status.FAIL).toList();
      if (!failed.isEmpty()) {
        throw AssemblerException.failed("the image failed verification: " + String.join("; ",
            failed.stream().map(c -> c.name() + ": " + c.detail()).toList()),
            "the previous output is untouched; assemble verify IMAGE shows the full table for an image");
      }
      s.ok(all.size() + " checks passed");
      return new Verified(all, verifier.binariesOutput());
    }
  }

  /**
   * qemu-img convert of the work disk (or of its rebuild) into a temporary file beside the output,
   * qemu-img check, qemu-img compare with the disk it came from (the file reads as the disk the
   * verify checked, or as its rebuild from the tree read right after), sha256, the manifest, and
   * only then the rename: a failure leaves the previous output in place.
   */
  private Result output(Plan plan, Lock lock, Path disk, Path output, Path partial, Made made, Path work,
      List<Check> checks) throws IOException {
    Rebuilt rebuilt = made.reproduction().bytes() ? timed("rebuild", () -> rebuild(disk, made, work)) : null;
    Path source = rebuilt != null ? rebuilt.raw() : disk;
    timed("convert", () -> {
      try (EventSink.Step s = events.step("convert", plan.output().compression() + " qcow2")) {
        Files.deleteIfExists(partial);
        QemuImg.convert(source, partial, plan.output().compression());
        QemuImg.check(partial);
        s.ok((Files.size(partial) >> 20) + " MiB");
      }
      return null;
    });
    if (rebuilt != null) {
      timed("rebuild", () -> joined(rebuilt.checked())); // its checks ran beside the convert
    }
    // the image's digest beside the compare: both only read the written file
    var sha256 = beside("sha256", () -> {
      try (InputStream in = Files.newInputStream(partial)) {
        return Digest.of("sha256", in).encoded();
      }
    });
    timed("compare", () -> {
      try (EventSink.Step s = events.step("compare", output.getFileName() + " with the "
          + (rebuilt != null ? "rebuilt" : "work") + " disk")) {
        QemuImg.compare(source, partial);
        s.ok("the same content");
      }
      return null;
    });
    return timed("manifest", () -> manifest(plan, lock, output, partial, checks, made, joined(sha256)));
  }

  /** The rebuilt raw disk and its checks (e2fsck, bytes outside the root unchanged), running on their own thread. */
  private record Rebuilt(Path raw, java.util.concurrent.CompletableFuture<Void> checked) {}

  /**
   * sha256 and size of the checked file; the image renamed into place; the documents describing it
   * (SBOMs, provenance); the catalogue manifest naming them; the checksums sealing them all.
   */
  private Result manifest(Plan plan, Lock lock, Path output, Path partial, List<Check> checks, Made made,
      String sha256) throws IOException {
    long size = Files.size(partial);
    long virtual = QemuImg.virtualSize(partial);
    String containerd = lock.packages().stream().filter(p -> p.name().equals("containerd")
        || p.name().equals("containerd.io")).map(Lock.Package::version).findFirst().orElse(null);
    Path manifest = output.resolveSibling(output.getFileName().toString().replaceFirst("\\.qcow2$", "") + ".json");
    // Image first, so a manifest never describes an image that is not there (write() is atomic itself).
    Files.move(partial, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    BuildRecord record = record(plan, lock, output, sha256, size, virtual, made);
    Map<String, String> files = new LinkedHashMap<>();
    byte[] mtree = made.reproduction().tree().manifest();
    String stem = output.getFileName().toString().replaceFirst("\\.qcow2$", "");
    Path tree = output.resolveSibling(stem + ".mtree");
    Path tmp = output.resolveSibling("." + stem + ".mtree.tmp");
    Files.write(tmp, mtree);
    Files.move(tmp, tree, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    files.put("tree", tree.getFileName().toString());
    files.putAll(made.attestor().describe(record, output.getParent()));
    Reproduction rep = made.reproduction();
    CatalogueManifest m = CatalogueManifest.of(plan, lock, output, virtual, size, sha256, containerd, made.epoch(),
        new CatalogueManifest.Reproducible(rep.bytes() ? "bytes" : "tree", RootTree.digest(mtree).toString(),
            rep.reason()), files);
    List<String> sealed = new ArrayList<>(List.of(output.getFileName().toString(), manifest.getFileName().toString()));
    if (plan.output().vagrant() != null) {
      Path box = output.resolveSibling(stem + ".box");
      VagrantBox.Written w = timed("vagrant box", () -> VagrantBox.write(output, virtual,
          made.epoch().getEpochSecond(), box));
      m = m.withVagrantBox(new CatalogueManifest.Artifact(box.getFileName().toString(), "vagrant-"
          + plan.output().vagrant(), "none", virtual, w.size(), w.sha256().encoded()));
      sealed.add(box.getFileName().toString());
    }
    m.write(manifest);
    files.forEach((kind, name) -> {
      if (!kind.startsWith("checksums")) {
        sealed.add(name);
      }
    });
    made.attestor().seal(output.getParent(), sealed);
    return new Result(output, manifest, sha256, size, checks, new LinkedHashMap<>(timings));
  }

  /**
   * The disk with its root file system made again from the tree, in one pass: a sparse raw copy of
   * the work disk, the canonical tar of the tree, mke2fs into the root partition's range (the
   * base's parameters, the build's epoch). Everything else on the disk stays as it was: the checks
   * (e2fsck -fn, the bytes outside the root) run on their own thread, joined after the convert.
   */
  private Rebuilt rebuild(Path disk, Made made, Path work) throws IOException {
    Reproduction r = made.reproduction();
    try (EventSink.Step s = events.step("rebuild", "root file system from its tree (ext4, " + r.root().device() + ")")) {
      Path raw = work.resolve(RAW);
      if (!Files.exists(raw)) { // the host's tree read made it already
        QemuImg.toRaw(disk, raw);
      }
      Files.deleteIfExists(disk); // the raw copy replaces it; the work directory holds one disk at a time
      long start = r.root().start();
      long size = r.root().size();
      var outside = beside("outside-before", () -> Ext4Rebuild.outside(raw, start, size)); // beside the tar
      Path tar = work.resolve("root.tar");
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tar,
          java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
        r.tree().writeTar(ch);
      }
      String before = joined(outside);
      Ext4Rebuild.make(raw, start, size, r.params(), tar, made.epoch().getEpochSecond(), work);
      Files.delete(tar);
      s.ok(r.tree().entries().size() + " paths, " + (size >> 20) + " MiB partition");
      return new Rebuilt(raw, beside("rebuild-check", () -> {
        Ext4Rebuild.check(raw, start, size, before);
        return null;
      }));
    }
  }

  /** The base with its digest, from the hash started when the build began when the recipe gave none. */
  private Fetcher.Base hashed(Fetcher.Base base) throws IOException {
    return base.digest() != null || baseHash == null ? base : new Fetcher.Base(base.path(), joined(baseHash));
  }

  /** What went into the image, for the documents that describe it. */
  private static BuildRecord record(Plan plan, Lock lock, Path output, String sha256, long size, long virtual,
      Made made) throws IOException {
    List<BuildRecord.RecipeFile> recipes = new ArrayList<>();
    for (String f : plan.recipeFiles()) {
      Path p = Path.of(f);
      recipes.add(new BuildRecord.RecipeFile(f, Files.isRegularFile(p) ? Digest.sha256(Files.readAllBytes(p)).encoded()
          : "0".repeat(64)));
    }
    List<BuildRecord.SeededImage> images = new ArrayList<>();
    for (ImageRecord i : made.images()) {
      ImageRecord.PlatformImage p = i.platforms().get(0);
      images.add(new BuildRecord.SeededImage(i.ref().tagged(), i.target().digest().toString(), i.target().mediaType(),
          p.platform().toString(), p.manifest().digest().toString(), p.config().digest().toString()));
    }
    Digest baseDigest = made.base().digest();
    if (baseDigest == null) {
      try (InputStream in = Files.newInputStream(made.base().path())) {
        baseDigest = Digest.of("sha256", in);
      }
    }
    String baseUri = plan.base().url() != null ? plan.base().url() : made.base().path().toAbsolutePath().toUri().toString();
    return new BuildRecord(plan, lock, Digest.sha256(LockFile.json(lock).getBytes(java.nio.charset.StandardCharsets.UTF_8))
        .encoded(), Digest.sha256(PlanPrinter.json(plan).getBytes(java.nio.charset.StandardCharsets.UTF_8)).encoded(),
        recipes, new BuildRecord.Artifact(output.getFileName().toString(), sha256, size, virtual, plan.output().format()),
        new BuildRecord.Base(baseUri, baseDigest.toString()), made.epoch(), made.basePackages(), images,
        CatalogueManifest.VERSION);
  }

  /** Each phase's time so far (for the benchmark and the summary). */
  public Map<String, Duration> timings() {
    return new LinkedHashMap<>(timings);
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // a leftover temporary file is harmless: the next build replaces it
    }
  }
}
