package io.hypervisor.assembler.testworld;

import io.hypervisor.assembler.cli.Main;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * The suite's images ({@link SuiteImage}), each built once per test JVM by the real CLI
 * ({@code assemble RECIPE --write-lock}) against the test world's loopback servers, and shared by
 * every test that reads it; each booted at most once ({@code verify --boot}); each opened at most
 * once read-only for tests that read files. Builds and boots run on background threads, as many
 * at a time as the host has cores ({@link #slot}): a TCG guest keeps about one core busy, so two
 * run side by side on this project's two-core machines while the test thread goes on. Everything
 * heavy is counted and timed for the run's report ({@link #report}).
 */
public final class SuiteImages {
  /**
   * One build: its recipe (its servers are gone after the build), output, manifest, lock, cache,
   * work directory and console; for an air-gapped build also the site's story (bundle, fetch, kill).
   */
  public record Built(SuiteImage suiteImage, Path recipe, Path image, Path manifest, Path lock, Path cache, Path work,
      int code, String out, String err, AirGappedBuild.Site site) {}

  /** A rebuild of a suite image in another place (see {@link #rebuild}): the run and what it wrote. */
  public record Rebuilt(Run run, Path image, Path manifest, Path lock, Path bundle, Path dir, Run applianceRun,
      String applianceSha256) {}

  /** One CLI run (a boot): exit code, stdout, stderr. */
  public record Run(int code, String out, String err) {}

  private static final int SLOTS = Math.max(1, Runtime.getRuntime().availableProcessors());
  private static final Semaphore SLOT = new Semaphore(SLOTS, true);
  /** Runs builds and boots in the order they were asked for, as many at once as there are slots. */
  private static final ExecutorService POOL = Executors.newFixedThreadPool(SLOTS, r -> {
    Thread t = new Thread(r, "suite-images");
    t.setDaemon(true);
    return t;
  });
  private static final Map<SuiteImage, CompletableFuture<Built>> BUILDS = new EnumMap<>(SuiteImage.class);
  private static final Map<SuiteImage, CompletableFuture<Run>> BOOTS = new EnumMap<>(SuiteImage.class);
  private static final Map<SuiteImage, CompletableFuture<Rebuilt>> REBUILDS = new EnumMap<>(SuiteImage.class);
  private static final Map<SuiteImage, GuestfsSession> SESSIONS = new EnumMap<>(SuiteImage.class);
  private static final List<String> TIMINGS = new ArrayList<>();
  private static Path root;

  private SuiteImages() {}

  /** The build of {@code image}, made on first use (or already under way). */
  public static Built get(SuiteImage image) {
    try {
      return build(image).join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
  }

  /** Starts the builds (and the boots and rebuilds asked for) of these images, in their order. */
  public static synchronized void prefetch(Collection<SuiteImage> images, Collection<SuiteImage> boots,
      Collection<SuiteImage> rebuilds) {
    images.forEach(SuiteImages::build);
    boots.forEach(SuiteImages::bootFuture);
    rebuilds.forEach(SuiteImages::rebuildFuture);
  }

  /**
   * The same build again as another build host would run it: its own process, another time
   * zone, umask 077, another working and work directory, a fresh content store filled only from
   * the bundle written right after the first build ({@link SuiteImage#reproduced}), and the same
   * recipe file and signing keys. The output directory is bind-mounted from elsewhere in a
   * private mount namespace, so the recipe's output path, and with it the plan, stays the same.
   */
  public static Rebuilt rebuild(SuiteImage image) {
    try {
      return rebuildFuture(image).join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
  }

  private static synchronized CompletableFuture<Rebuilt> rebuildFuture(SuiteImage image) {
    if (!image.reproduced()) {
      throw new IllegalArgumentException(image + " is not bundled for a rebuild (SuiteImage.reproduced)");
    }
    return REBUILDS.computeIfAbsent(image, i -> build(i).thenApplyAsync(b -> slot("rebuild " + i.label(),
        () -> rebuildNow(b)), POOL));
  }

  private static Path rebuildDir(SuiteImage i) {
    return root().resolve("rebuild-" + i.label());
  }

  private static Rebuilt rebuildNow(Built b) throws Exception {
    Path dir = rebuildDir(b.suiteImage());
    Path bundle = dir.resolve("bundle.tar");
    if (b.code() != 0 || !Files.isRegularFile(bundle)) {
      throw new IllegalStateException(b.suiteImage() + ": no build or no bundle to rebuild from: " + b.err());
    }
    Path out = Files.createDirectories(dir.resolve("out"));
    Path lock = dir.resolve("rebuild.lock.json");
    // The first build's step cache, copied as a build host would keep it: the rebuild starts from
    // the layer its packages step left (everything else still comes from the bundle), so equal
    // bytes prove that a build from a cached layer gives the cold build's image.
    // First without the record of the verify's binaries a build keeps beside the layer: that
    // rebuild launches an appliance on the layer (and keeps the record); the second, in the same
    // cache, builds without any appliance. Both must give the first build's bytes.
    freshSteps(b, dir);
    Path image = out.resolve(b.image().getFileName());
    Run appliance = rebuildRun(b, dir, out, bundle, lock, "appliance");
    String applianceSha = appliance.code() == 0 ? sha256(image) : null;
    Run host = rebuildRun(b, dir, out, bundle, lock, "host");
    return new Rebuilt(host, image, out.resolve(b.manifest().getFileName()), lock, bundle, dir, appliance, applianceSha);
  }

  /** The first build's step cache copied into {@code dir}'s fresh cache, without the records kept beside its layers. */
  private static void freshSteps(Built b, Path dir) throws IOException {
    Path freshCache = Files.createDirectories(dir.resolve("fresh-cache"));
    Tools.run(List.of("cp", "-a", b.cache().resolve("steps").toString(), freshCache.toString()), dir, 600).ok();
    try (var layers = Files.list(freshCache.resolve("steps/layers"))) {
      for (Path layer : layers.toList()) {
        Tools.run(List.of("rm", "-rf", layer.resolve("records").toString()), dir, 60).ok();
      }
    }
  }

  private static String sha256(Path f) {
    return Tools.run(List.of("sha256sum", f.toString()), f.getParent(), 600).ok().out().split(" ")[0];
  }

  /** Three builds of one recipe on another disk size, and the sha256 of each one's image. */
  public record Resized(Run cold, String coldSha256, Run appliance, String applianceSha256, Run host,
      String hostSha256, Path image) {}

  /**
   * The rebuild's recipe, bundle and first build's layer (see {@link #rebuild}) on a disk of
   * {@code size} ({@code --set disk.size}), in a directory of its own: cold ({@code
   * --no-step-cache}), then from the layer with an appliance (no record of the verify's binaries
   * yet) and without one.
   */
  public static Resized resized(SuiteImage image, String size) {
    Rebuilt r = rebuild(image);
    Built b = get(image);
    return slot("resized " + image.label() + " " + size, () -> {
      Path dir = root().resolve("resized-" + image.label() + "-" + size);
      Path out = Files.createDirectories(dir.resolve("out"));
      Path lock = dir.resolve("resized.lock.json");
      freshSteps(b, dir);
      Path file = out.resolve(b.image().getFileName());
      Run cold = rebuildRun(b, dir, out, r.bundle(), lock, "cold", "--set", "disk.size=" + size, "--no-step-cache");
      String coldSha = cold.code() == 0 ? sha256(file) : null;
      Run appliance = rebuildRun(b, dir, out, r.bundle(), lock, "appliance", "--set", "disk.size=" + size);
      String applianceSha = appliance.code() == 0 ? sha256(file) : null;
      Run host = rebuildRun(b, dir, out, r.bundle(), lock, "host", "--set", "disk.size=" + size);
      return new Resized(cold, coldSha, appliance, applianceSha, host, host.code() == 0 ? sha256(file) : null, file);
    });
  }

  /** One rebuild in another process: another time zone and umask, another working directory. */
  private static Run rebuildRun(Built b, Path dir, Path out, Path bundle, Path lock, String name, String... extra)
      throws Exception {
    List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "--propagation", "private", "sh", "-c",
        "mount --bind \"$1\" \"$2\" && shift 2 && umask 077 && exec \"$@\"", "sh", out.toString(),
        b.image().getParent().toString(),
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
        "-Djava.library.path=" + System.getProperty("java.library.path"), Main.class.getName(),
        "--cache", dir.resolve("fresh-cache").toString(), "--work", dir.resolve("elsewhere/work").toString(),
        "--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS,
        b.recipe().toString(), "--bundle", bundle.toString(), "--write-lock", lock.toString()));
    cmd.addAll(List.of(extra));
    if (b.suiteImage().signed()) {
      cmd.addAll(ReleaseKeys.get().signOptions());
    }
    Path stdout = dir.resolve("rebuild-" + name + ".out");
    Path stderr = dir.resolve("rebuild-" + name + ".err");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(Files.createDirectories(dir.resolve("cwd")).toFile())
        .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
    pb.environment().put("TZ", "Pacific/Kiritimati"); // UTC+14: another day than the first build's
    pb.environment().put("LC_ALL", "C.UTF-8");
    Process p = pb.start();
    p.getOutputStream().close();
    if (!p.waitFor(60, java.util.concurrent.TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new IllegalStateException("the rebuild did not finish within an hour");
    }
    return new Run(p.exitValue(), Files.readString(stdout), Files.readString(stderr));
  }

  private static synchronized CompletableFuture<Built> build(SuiteImage image) {
    return BUILDS.computeIfAbsent(image, i -> CompletableFuture.supplyAsync(() -> slot("build " + i.label(),
        () -> buildNow(i)), POOL));
  }

  /** {@code verify --boot --json} of the image, run once per test JVM (start it early with {@link #prefetch}). */
  public static Run boot(SuiteImage image) {
    return bootFuture(image).join();
  }

  private static synchronized CompletableFuture<Run> bootFuture(SuiteImage image) {
    return BOOTS.computeIfAbsent(image, i -> build(i).thenApplyAsync(b -> slot("boot " + i.label(),
        () -> run("--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "--work",
            workDir("boot-" + i.label()).toString(), "--json", "verify", "--boot", b.image().toString(), "--recipe",
            b.recipe().toString())), POOL));
  }

  /**
   * A read-only appliance on the built image, launched once and shared by every test that only
   * reads files (closed when the JVM ends). libguestfs handles are not thread-safe: use it from
   * the test thread only.
   */
  public static GuestfsSession readOnly(SuiteImage image) throws IOException {
    Built b = get(image); // outside any lock: builds finish on other threads
    if (b.code() != 0) {
      throw new IllegalStateException(image + " did not build: " + b.err());
    }
    synchronized (SESSIONS) {
      GuestfsSession s = SESSIONS.get(image);
      if (s == null) {
        long t0 = System.nanoTime();
        s = GuestfsSession.open(GuestfsSession.Options.readOnly(b.image(), "qcow2", Guests.accelerator(),
            Duration.ofMinutes(10)).withCpus(Integer.parseInt(Guests.CPUS)), EventSink.NONE);
        note("read-only appliance " + image.label(), t0);
        SESSIONS.put(image, s);
      }
      return s;
    }
  }

  /**
   * Runs heavy work (a TCG guest: a build, a boot, an appliance) in one of the host's slots, so
   * at most one guest per core runs at once; the time is reported.
   */
  public static <T> T slot(String what, Callable<T> work) {
    try {
      SLOT.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted waiting for a slot for " + what, e);
    }
    long t0 = System.nanoTime();
    try {
      return work.call();
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(what + ": " + e, e);
    } finally {
      SLOT.release();
      note(what, t0);
    }
  }

  private static void note(String what, long t0) {
    synchronized (TIMINGS) {
      TIMINGS.add(String.format("%6.0f s  %s", (System.nanoTime() - t0) / 1e9, what));
    }
  }

  /** What ran and how long each took, in the order they finished. */
  public static List<String> report() {
    synchronized (TIMINGS) {
      return List.copyOf(TIMINGS);
    }
  }

  /** The directory all builds share (one content store, as on a build host). */
  public static synchronized Path root() {
    if (root == null) {
      try {
        root = Files.createTempDirectory("assemble-suite-");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Path r = root;
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        synchronized (SESSIONS) {
          SESSIONS.values().forEach(s -> {
            try {
              s.close();
            } catch (IOException ignored) {
              // read-only
            }
          });
        }
        if (System.getenv("ASSEMBLE_KEEP_SUITE") == null) { // set it to look at what a failed run left
          deleteTree(r);
        }
      }));
    }
    return root;
  }

  /** The work directory of one user of the suite (builds share "work"; boots get their own, for their console logs). */
  public static Path workDir(String name) {
    return root().resolve(name);
  }

  /** Runs the CLI in this JVM. */
  public static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static Built buildNow(SuiteImage i) throws Exception {
    if (i.airGapped()) {
      return AirGappedBuild.build(i, Files.createDirectories(root().resolve("air-gap-" + i.label())));
    }
    Path dir = root();
    try (TestRegistry registry = TestRegistry.builder().build().start();
        StaticServer apt = new StaticServer(Fixtures.part("repos").resolve("apt"), "127.0.0.1");
        StaticServer docker = new StaticServer(Fixtures.part("docker-repo"), "127.0.0.1")) {
      Path image = dir.resolve("out").resolve("test-world-" + i.label() + ".qcow2");
      Path recipe = TestRecipes.recipe(dir.resolve("recipes").resolve(i.label()), i, apt.url(), docker.url(),
          registry.url(), image);
      Path lock = dir.resolve(i.label() + ".lock.json");
      List<String> args = new ArrayList<>(List.of("--cache", dir.resolve("cache").toString(), "--work",
          workDir("work").toString(), "--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS,
          recipe.toString(), "--write-lock", lock.toString()));
      if (i.signed()) {
        args.addAll(ReleaseKeys.get().signOptions());
      }
      Run r = run(args.toArray(String[]::new));
      if (r.code() == 0 && i.reproduced()) {
        // the bundle a rebuild elsewhere starts from, written while the servers are still up
        Path bundle = Files.createDirectories(rebuildDir(i)).resolve("bundle.tar");
        Run f = run("--cache", dir.resolve("cache").toString(), "fetch", recipe.toString(), "--bundle",
            bundle.toString());
        if (f.code() != 0) {
          throw new IllegalStateException("fetch of the rebuild bundle failed: " + f.out() + f.err());
        }
      }
      Path manifest = image.resolveSibling(image.getFileName().toString().replaceFirst("\\.qcow2$", ".json"));
      return new Built(i, recipe, image, manifest, lock, dir.resolve("cache"), workDir("work"), r.code(), r.out(),
          r.err(), null);
    }
  }

  private static void deleteTree(Path dir) {
    io.hypervisor.assembler.model.FileTrees.deleteQuietly(dir); // a temporary directory
  }
}
