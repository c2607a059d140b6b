package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.Assembler;
import io.hypervisor.assembler.assemble.ImagePublish;
import io.hypervisor.assembler.assemble.Bundler;
import io.hypervisor.assembler.assemble.Settings;
import io.hypervisor.assembler.assemble.Slots;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Problem;
import io.hypervisor.assembler.model.SmallFiles;
import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.provenance.Attestations;
import io.hypervisor.assembler.recipe.RecipeReader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ScopeType;

/** {@code assemble [RECIPE]}: the main job, and the parent of every verb with the shared options. */
@Command(name = "assemble", mixinStandardHelpOptions = true, version = "assemble 0.1.0",
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Builds a Kubernetes node image from a distro cloud image, offline.", "",
        "Given a RECIPE and no verb, it runs the main job: plan, lock (or follow --lock), fetch "
            + "and verify every package and image, open a work overlay of the base image with one "
            + "libguestfs appliance, apply the steps, write the compressed qcow2 and its catalogue "
            + "manifest, and verify the written image before reporting success."},
    subcommands = {PlanCommand.class, ImagesCommand.class, VerifyCommand.class, DoctorCommand.class,
        PullCommand.class, InspectCommand.class, CacheCommand.class, SeedCommand.class, FetchCommand.class,
        BundleCommand.class, VerifySignaturesCommand.class, DiffCommand.class,
        PublishCommand.class},
    footer = {"", "Examples:",
        "  assemble recipes/recipe-1.34-worker.yaml",
        "  assemble recipes/recipe-1.34-worker.yaml --lock recipe-1.34-worker.lock.json",
        "  assemble recipes/recipe-1.34-worker.yaml --bundle site-worker.tar --trust-key release-key.pub.asc",
        "  assemble verify out/hks-worker-1.34.2.qcow2 --recipe recipes/recipe-1.34-worker.yaml",
        "  assemble plan recipes/recipe-1.34-cp.yaml --json",
        "  assemble images --kubernetes-version 1.34.2 --role worker --cni cilium",
        "  assemble doctor",
        "", "Exit codes: 0 ok, 1 build failed, 2 invalid input or usage, 3 host cannot run "
            + "the build, 130 interrupted."})
final class AssembleCommand implements Callable<Integer> {
  final PrintStream out;
  final PrintStream err;

  @Parameters(index = "0", arity = "0..*", paramLabel = "RECIPE", description = "The recipe (YAML). Several "
      + "recipes build in one run: one appliance per host core at once (one virtual CPU each under TCG), one "
      + "content store and step cache, a summary table at the end, the exit code of the worst build.")
  List<Path> recipes = new ArrayList<>();

  @Option(names = "--set", paramLabel = "PATH=VALUE", scope = ScopeType.INHERIT,
      description = "Override a recipe value, e.g. --set kubernetes.version=1.34.3 (repeatable; "
          + "wins over the recipe and the CCM_*/AUTOSCALER_* environment variables).")
  List<String> sets = new ArrayList<>();

  @Option(names = "--reproducible", negatable = true,
      description = "Byte-identical output from the same recipe, lock and base (the root file system rebuilt from "
          + "its tree; the default, as output.reproducible in the recipe), or with --no-reproducible only the same "
          + "tree (its manifest is always written).")
  Boolean reproducible;

  @Option(names = "--step-cache", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Start from the cache's layer when another build already installed the same packages on the "
          + "same base (the default), and keep the layer of this build; --no-step-cache installs afresh and keeps "
          + "nothing. Layers live in <cache>/steps; assemble cache ls lists them, assemble cache gc prunes them.")
  boolean stepCache = true;

  @Option(names = "--json", scope = ScopeType.INHERIT,
      description = "Machine-readable output: results as JSON on stdout, events as JSON lines on stderr.")
  boolean json;

  @Option(names = "--cache", paramLabel = "DIR", scope = ScopeType.INHERIT,
      description = "Cache directory (content store, host probe memo). Default: $XDG_CACHE_HOME/assemble.")
  Path cache;

  @Option(names = "--work", paramLabel = "DIR", scope = ScopeType.INHERIT,
      description = "Work directory for overlays and temporary files. Default: <cache>/work.")
  Path work;

  @Option(names = "--accel", paramLabel = "auto|kvm|tcg", scope = ScopeType.INHERIT,
      converter = AcceleratorConverter.class,
      description = "Accelerator for libguestfs and qemu: auto (probe; remembered per host), kvm or tcg.")
  Accelerator accel = Accelerator.AUTO;

  @Option(names = "--lock", paramLabel = "FILE",
      description = "Build exactly what this lock file says (from assemble plan RECIPE --lock FILE); refused if it "
          + "does not answer the recipe's plan or was made against another base image.")
  Path lockFile;

  @Option(names = "--write-lock", paramLabel = "FILE",
      description = "Save the lock this build used (resolved now, or the one given).")
  Path writeLock;

  @Option(names = "--guest-cpus", scope = ScopeType.INHERIT, paramLabel = "N",
      description = "Virtual CPUs of each guest (the build appliance, verify's, the boot VM). Default 2; give 1 when "
          + "running several builds or boots at once under TCG (software emulation), one per host core.")
  Integer guestCpus;

  @Option(names = "--offline", scope = ScopeType.INHERIT,
      description = "No network access of any kind: everything must already be in the content store (a build "
          + "with --lock after an earlier build or fetch); what is missing is named.")
  boolean offline;

  @Option(names = "--images-dir", paramLabel = "DIR", scope = ScopeType.INHERIT,
      description = "Pre-fetched image tarballs (OCI layout, docker save, ctr export; any mix): each planned image "
          + "found in one by name is taken from it, verified, instead of from a registry; added to the recipe's "
          + "images.archives. Says which image came from which file and which files matched nothing.")
  Path imagesDir;

  @Option(names = "--bundle", paramLabel = "FILE",
      description = "Build from this bundle (assemble fetch on a connected host) with no network at all: it is "
          + "checked and imported first, and refused with every missing or bad file listed; implies --offline and "
          + "follows the bundle's lock.")
  Path bundle;

  @Option(names = "--trust-key", paramLabel = "FILE",
      description = "With --bundle: require a good signature by this OpenPGP public key.")
  Path trustKey;

  @Option(names = "--sign-key", paramLabel = "FILE",
      description = "Sign the image's NAME.SHA256SUMS with this OpenPGP secret key (armored or binary; passphrase "
          + "from $ASSEMBLE_SIGN_PASSPHRASE): NAME.SHA256SUMS.asc, checked with gpgv. The same key kind as fetch's "
          + "--sign-key.")
  Path signKey;

  @Option(names = "--provenance-key", paramLabel = "FILE",
      description = "Sign the SLSA provenance (a DSSE envelope, NAME.provenance.json) with this ECDSA P-256 private "
          + "key, PKCS#8 PEM (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256); cosign verifies it "
          + "with the public key.")
  Path provenanceKey;

  @Option(names = "--debug", scope = ScopeType.INHERIT,
      description = "Show debug events and stack traces.")
  boolean debug;

  AssembleCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  public Integer call() {
    if (recipes.isEmpty()) {
      err.println("error: no recipe given");
      err.println("hint: assemble RECIPE, or assemble --help for the verbs");
      return ExitCodes.INPUT;
    }
    if (recipes.size() > 1) {
      return buildAll();
    }
    Plan plan = plan(recipes.get(0));
    Path lock = lockFile;
    Settings settings = settings();
    if (bundle != null) {
      if (lockFile != null) {
        throw AssemblerException.input("--bundle carries its own lock; leave out --lock", "use one of them");
      }
      settings = settings.withOffline(true);
      byte[] key = null;
      if (trustKey != null) {
        try {
          key = io.hypervisor.assembler.model.SmallFiles.read(trustKey, io.hypervisor.assembler.model.SmallFiles.KEY,
              "trust key");
        } catch (java.io.IOException e) {
          throw AssemblerException.input("cannot read the trusted key " + trustKey + ": " + e.getMessage(),
              "give the public key the bundle was signed with");
        }
      }
      lock = new Bundler(settings, events()).open(bundle, plan, key).lockFile();
    }
    Built b = buildOne(plan, settings, events(), lock, writeLock, new Attestations(keys()));
    Assembler.Result r = b.result();
    if (json) {
      Tables.json(out, "build", r.checks(), java.util.Map.of("image", r.image().toString(), "manifest",
          r.manifest().toString(), "sha256", r.sha256(), "size", r.size(), "timings", timings(r)));
    } else {
      Tables.checks(out, r.checks());
      out.println();
      out.println("built " + r.image() + " (" + Console.amount(r.size(), "bytes") + ", sha256 " + r.sha256() + ")");
      out.println("catalogue manifest " + r.manifest());
      if (b.published() != null) {
        out.println("published " + b.published().tagged() + " as " + b.published().reference());
      }
      out.println("phases: " + String.join(", ", timings(r).entrySet().stream()
          .map(e -> e.getKey() + " " + e.getValue()).toList()));
    }
    return ExitCodes.OK;
  }

  /** One build's image and, when the recipe publishes, where it went. */
  record Built(Assembler.Result result, ImagePublish.Result published) {}

  private Built buildOne(Plan plan, Settings settings, EventSink ev, Path lock, Path writeTo, Attestations attestations) {
    return buildOne(plan, settings, ev, lock, writeTo, attestations, Slots.NONE);
  }

  /** The same, sharing the run's appliance slots with other builds. */
  private Built buildOne(Plan plan, Settings settings, EventSink ev, Path lock, Path writeTo, Attestations attestations,
      Slots slots) {
    Assembler.Result r = new Assembler(settings, ev).sharing(slots).build(plan, new Assembler.Options(lock, writeTo,
        attestations, stepCache));
    ImagePublish.Result published = plan.output().publish() == null ? null
        : new ImagePublish(settings, ev).publishPlanned(plan, r.image(), attestations, signKey != null);
    return new Built(r, published);
  }

  /** One build of several: its recipe, exit code, image (when built), time and error (when not). */
  record Outcome(String recipe, int code, Built built, java.time.Duration time, String error) {}

  /**
   * Several recipes in one run: planned first (a recipe error stops all before any work), then
   * built by a pool with one slot per appliance the host can run at once; every build gets its
   * own events prefix, failures are reported and the others go on; the summary comes last.
   */
  private Integer buildAll() {
    if (lockFile != null || writeLock != null || bundle != null) {
      throw AssemblerException.input("--lock, --write-lock and --bundle belong to one recipe, and "
          + recipes.size() + " recipes were given", "build those recipes one by one, or leave the options out");
    }
    List<Plan> plans = recipes.stream().map(this::plan).toList();
    java.util.Map<String, String> outputs = new java.util.HashMap<>();
    for (int i = 0; i < plans.size(); i++) {
      String o = Path.of(plans.get(i).output().path()).toAbsolutePath().normalize().toString();
      String before = outputs.put(o, recipes.get(i).toString());
      if (before != null) {
        throw AssemblerException.input(before + " and " + recipes.get(i) + " both write " + o,
            "give each recipe its own output.path (or --set output.path=...)");
      }
    }
    EventSink ev = events();
    Settings base = settings();
    Assembler.Parallel par = Assembler.parallel(base, ev, plans.size(), guestCpus != null);
    Settings settings = base.withGuestCpus(par.guestCpus());
    Attestations attestations = new Attestations(keys());
    ev.info("building " + plans.size() + " recipes, " + par.slots() + " at once, " + par.guestCpus()
        + " virtual CPU(s) per appliance");
    // a thread per recipe, a slot per appliance: a build waiting for another's step cache layer
    // gives its slot to a recipe of another key meanwhile
    Slots slots = Slots.of(par.slots());
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(plans.size());
    List<java.util.concurrent.Future<Outcome>> running = new ArrayList<>();
    for (Plan plan : plans) {
      running.add(pool.submit(() -> {
        try {
          slots.take();
        } catch (java.io.InterruptedIOException e) {
          return new Outcome(plan.name(), ExitCodes.INTERRUPTED, null, java.time.Duration.ZERO, "interrupted");
        }
        long t0 = System.nanoTime();
        try {
          Built b = buildOne(plan, settings, ev.prefixed(plan.name()), null, null, attestations, slots);
          return new Outcome(plan.name(), ExitCodes.OK, b, java.time.Duration.ofNanos(System.nanoTime() - t0), null);
        } catch (Exception e) {
          java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
          int code = Main.report(e, new PrintStream(buf, true, java.nio.charset.StandardCharsets.UTF_8), debug);
          String text = buf.toString(java.nio.charset.StandardCharsets.UTF_8);
          synchronized (err) {
            text.lines().forEach(l -> err.println(plan.name() + ": " + l));
          }
          return new Outcome(plan.name(), code, null, java.time.Duration.ofNanos(System.nanoTime() - t0),
              text.lines().findFirst().orElse("failed").replaceFirst("^error: ", ""));
        } finally {
          slots.give();
        }
      }));
    }
    pool.shutdown();
    List<Outcome> outcomes = new ArrayList<>();
    try {
      for (var f : running) {
        outcomes.add(f.get());
      }
    } catch (InterruptedException e) {
      pool.shutdownNow();
      Thread.currentThread().interrupt();
      return ExitCodes.INTERRUPTED;
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
    int worst = outcomes.stream().mapToInt(Outcome::code).max().orElse(ExitCodes.OK);
    if (json) {
      List<java.util.Map<String, Object>> rows = new ArrayList<>();
      for (Outcome o : outcomes) {
        java.util.Map<String, Object> row = new java.util.LinkedHashMap<>();
        row.put("recipe", o.recipe());
        row.put("exitCode", o.code());
        row.put("seconds", o.time().toSeconds());
        if (o.built() != null) {
          Assembler.Result r = o.built().result();
          row.put("image", r.image().toString());
          row.put("manifest", r.manifest().toString());
          row.put("sha256", r.sha256());
          row.put("size", r.size());
          row.put("timings", timings(r));
        } else {
          row.put("error", o.error());
        }
        rows.add(row);
      }
      Tables.json(out, java.util.Map.of("kind", "builds", "exitCode", worst, "builds", rows));
    } else {
      int w = outcomes.stream().mapToInt(o -> o.recipe().length()).max().orElse(6);
      out.printf("%-" + w + "s  %-6s  %8s  %-10s  %s%n", "recipe", "result", "time", "packages", "image / error");
      for (Outcome o : outcomes) {
        String packages = "-";
        String what = o.error();
        if (o.built() != null) {
          Assembler.Result r = o.built().result();
          packages = r.timings().containsKey("packages") ? String.format(java.util.Locale.ROOT, "%.1f s",
              r.timings().get("packages").toMillis() / 1000.0) : "cached";
          what = r.image() + " (" + Console.amount(r.size(), "bytes") + ", sha256 " + r.sha256().substring(0, 12) + ")";
        }
        out.printf("%-" + w + "s  %-6s  %6d s  %-10s  %s%n", o.recipe(), o.code() == 0 ? "ok" : "exit " + o.code(),
            o.time().toSeconds(), packages, what);
      }
    }
    return worst;
  }

  /** The signing keys given (--sign-key, --provenance-key), read and checked before any work. */
  Attestations.Keys keys() {
    String pem = null;
    byte[] pgp = null;
    try {
      if (provenanceKey != null) {
        pem = SmallFiles.readString(provenanceKey, SmallFiles.KEY, "provenance key");
      }
      if (signKey != null) {
        pgp = SmallFiles.read(signKey, SmallFiles.KEY, "signing key");
      }
    } catch (java.io.IOException e) {
      throw AssemblerException.input("cannot read a signing key: " + e.getMessage(),
          "--sign-key takes an OpenPGP secret key, --provenance-key an ECDSA P-256 PKCS#8 PEM key");
    }
    return new Attestations.Keys(pem, pgp, System.getenv().getOrDefault("ASSEMBLE_SIGN_PASSPHRASE", "")
        .toCharArray());
  }

  static java.util.Map<String, String> timings(Assembler.Result r) {
    java.util.Map<String, String> t = new java.util.LinkedHashMap<>();
    r.timings().forEach((k, v) -> t.put(k, String.format(java.util.Locale.ROOT, "%.1f s", v.toMillis() / 1000.0)));
    return t;
  }

  EventSink events() {
    return new Console(err, Console.detect(json), debug);
  }

  Settings settings() {
    Settings s = Settings.defaults(System.getenv());
    if (cache != null) {
      s = s.withCacheDir(cache);
    }
    if (work != null) {
      s = s.withWorkDir(work);
    }
    s = s.withAccelerator(accel).withOffline(offline);
    if (guestCpus != null) {
      if (guestCpus < 1 || guestCpus > 64) {
        throw AssemblerException.input("--guest-cpus " + guestCpus + " is out of range", "give 1 to 64");
      }
      s = s.withGuestCpus(guestCpus);
    }
    return s;
  }

  RecipeReader reader() {
    List<String> all = new ArrayList<>(sets);
    if (reproducible != null) {
      all.add(0, "output.reproducible=" + reproducible); // an explicit --set still wins
    }
    return new RecipeReader(System.getenv(), all);
  }

  /** Reads and plans a recipe, showing its warnings. */
  Plan plan(Path file) {
    RecipeReader.Result r = reader().read(file);
    Plan plan = new Planner(KubernetesBom.load()).plan(r.recipe(), r.warnings());
    if (imagesDir != null) {
      plan = plan.withImageArchives(imageArchives().stream().map(Path::toString).toList());
    }
    EventSink ev = events();
    for (Problem w : plan.warnings()) {
      ev.warn(w.render());
    }
    return plan;
  }

  /** The image tarballs of --images-dir (regular files, not hidden, sorted), absolute; none without it. */
  List<Path> imageArchives() {
    if (imagesDir == null) {
      return List.of();
    }
    try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(imagesDir)) {
      return files.filter(java.nio.file.Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
          .sorted().map(Path::toAbsolutePath).toList();
    } catch (java.io.IOException e) {
      throw AssemblerException.input("cannot list --images-dir " + imagesDir + ": " + e.getMessage(),
          "give a directory of image tarballs");
    }
  }

  /** Parses --accel values. */
  static final class AcceleratorConverter implements picocli.CommandLine.ITypeConverter<Accelerator> {
    @Override
    public Accelerator convert(String value) {
      return Accelerator.parse(value);
    }
  }
}
