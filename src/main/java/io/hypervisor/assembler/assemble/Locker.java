package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.fetch.Fetcher;
import io.hypervisor.assembler.fetch.ImageArchives;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.guestfs.HostProbe;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.http.Authenticator;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistrySource;
import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Downloads;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.Resolver;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.pkgrepo.Source;
import io.hypervisor.assembler.pkgrepo.Universe;
import io.hypervisor.assembler.pkgrepo.apt.AptIndexer;
import io.hypervisor.assembler.pkgrepo.apt.AptRepository;
import io.hypervisor.assembler.pkgrepo.apt.AptSources;
import io.hypervisor.assembler.pkgrepo.apt.PackagesIndex;
import io.hypervisor.assembler.pkgrepo.rpm.RpmIndexer;
import io.hypervisor.assembler.pkgrepo.rpm.RpmInstalled;
import io.hypervisor.assembler.pkgrepo.rpm.RpmRepository;
import io.hypervisor.assembler.pkgrepo.rpm.YumRepos;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.LockFile;
import io.hypervisor.assembler.plan.Plan;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a plan into a lock: reads the base image's package configuration and database (one
 * read-only appliance), indexes the image's and the recipe's repositories (signatures, hashes),
 * resolves the plan's packages to the exact closure, and resolves every image reference to a
 * digest. Nothing is downloaded but indexes and keys.
 */
public final class Locker {
  /** What the base image says about packages: its sources and installed set. */
  public record ImagePackages(ImageFiles files, List<Candidate> installed, String installedDigest) {}

  private final Settings settings;
  private final EventSink events;
  private final HttpSettings httpSettings;
  private final Map<String, String> environment;

  public Locker(Settings settings, EventSink events, HttpSettings httpSettings, Map<String, String> environment) {
    this.settings = settings;
    this.events = events;
    this.httpSettings = httpSettings;
    this.environment = environment;
  }

  /** With default HTTP behaviour and the process environment (proxies, credentials). */
  public Locker(Settings settings, EventSink events) {
    this(settings, events, HttpSettings.defaults().withOffline(settings.offline()), System.getenv());
  }

  /** Locks a plan (fetching its base image when it is a download) and writes the lock file. */
  public Lock lockTo(Plan plan, Path lockFile) {
    Lock lock = lock(plan);
    try {
      LockFile.write(lock, lockFile);
    } catch (IOException e) {
      throw AssemblerException.failed("writing the lock " + lockFile + ": " + e.getMessage(), "check the directory");
    }
    return lock;
  }

  /** Resolves the plan against its base image (read through one read-only appliance); writes nothing. */
  public Lock lock(Plan plan) {
    return resolve(plan).lock();
  }

  /** A lock with what it was made from: the image's package configuration (a snapshot) and the base. */
  public record Resolved(Lock lock, ImageFiles config, Fetcher fetcher, Fetcher.Base base) {}

  /** The lock and its inputs, for callers that go on to fetch (the air-gap bundle). */
  public Resolved resolve(Plan plan) {
    List<String> problems = new ArrayList<>();
    plan.warnings().stream().filter(w -> w.severity() == io.hypervisor.assembler.model.Problem.Severity.ERROR)
        .forEach(w -> problems.add(w.render()));
    if (!problems.isEmpty()) {
      throw AssemblerException.input("the plan has errors: " + String.join("; ", problems), "fix the recipe");
    }
    try {
      Fetcher fetcher = new Fetcher(ContentStore.open(settings.cacheDir()), httpSettings, environment, events);
      Fetcher.Base base = fetcher.base(plan.base(), null);
      ImagePackages image;
      ImageFiles config;
      // Indexes and the resolution need no appliance: it closes as soon as the image's files are read.
      try (ImageSession session = GuestfsSession.open(GuestfsSession.Options.readOnly(base.path(),
          DiskFormat.of(base.path()), accelerator(), settings.launchTimeout()).withCpus(settings.guestCpus()), events)) {
        image = imagePackages(session, plan);
        config = snapshot(image.files(), plan);
      }
      Lock lock = lock(plan, new ImagePackages(config, image.installed(), image.installedDigest()), fetcher,
          base.digest());
      return new Resolved(lock, config, fetcher, base);
    } catch (IOException e) {
      throw AssemblerException.failed("locking " + plan.name() + ": " + e.getMessage(),
          "check the base image and the repositories' reachability; --debug shows the cause");
    }
  }

  /** The accelerator this host can use (probed once and remembered). */
  Accelerator accelerator() {
    return accelerator(settings, events);
  }

  /** The accelerator this host can use (probed once and remembered); exit 3 when none works. */
  static Accelerator accelerator(Settings settings, EventSink events) {
    Accelerator a = new HostProbe(events).accelerator(new HostProbe.Options(settings.accelerator(),
        settings.workDir(), settings.cacheDir(), settings.launchTimeout(), false));
    if (a == null) {
      throw AssemblerException.host("no libguestfs appliance can be launched on this host",
          "run assemble doctor to see what was tried");
    }
    return a;
  }

  /** The image's package database and installed set. */
  public static ImagePackages imagePackages(ImageSession session, Plan plan) throws IOException {
    return imagePackages(new SessionFiles(session), packageDatabase(session, plan), plan);
  }

  /**
   * The installed set from the package database's bytes: dpkg's status file, or what
   * {@code rpm -qa} prints (rpm's databases are read by rpm itself, inside the image).
   */
  static ImagePackages imagePackages(ImageFiles files, byte[] database, Plan plan) throws IOException {
    List<Candidate> installed = plan.base().family().equals("apt")
        ? PackagesIndex.installed(database, plan.base().arch())
        : RpmInstalled.parse(new String(database, StandardCharsets.UTF_8));
    return new ImagePackages(files, installed, Digest.sha256(database).toString());
  }

  /** The package database's bytes as {@link #imagePackages(ImageFiles, byte[], Plan)} reads them. */
  static byte[] packageDatabase(ImageSession session, Plan plan) throws IOException {
    if (plan.base().family().equals("apt")) {
      byte[] status = session.read("/var/lib/dpkg/status");
      if (status == null) {
        throw new IOException("the base image has no /var/lib/dpkg/status; is it really " + plan.base().distro() + "?");
      }
      return status;
    }
    return session.command(RpmInstalled.command()).getBytes(StandardCharsets.UTF_8);
  }

  /** Receives one file of the package configuration walk. */
  @FunctionalInterface
  interface FileVisitor {
    void file(String path, byte[] bytes);
  }

  /** Receives one directory listing of that walk. */
  @FunctionalInterface
  interface DirVisitor {
    void dir(String path, List<String> names);
  }

  /**
   * The image's package configuration (sources, keyrings, repo files, os-release): every file and
   * listing the resolvers and the fetch read, walked once.
   */
  static void walkConfiguration(ImageFiles files, Plan plan, FileVisitor onFile, DirVisitor onDir) throws IOException {
    Map<String, byte[]> copy = new LinkedHashMap<>();
    Map<String, List<String>> dirs = new LinkedHashMap<>();
    for (String r : configurationDirs(plan)) {
      walk(files, r, copy, dirs, 0);
    }
    for (String f : List.of("/etc/os-release", "/usr/lib/os-release")) {
      byte[] b = files.read(f);
      if (b != null) {
        copy.put(f, b);
      }
    }
    copy.forEach(onFile::file);
    dirs.forEach(onDir::dir);
  }

  /** The directories that walk starts from: the package manager's sources and keyrings. */
  static List<String> configurationDirs(Plan plan) {
    return plan.base().family().equals("apt") ? List.of("/etc/apt", "/usr/share/keyrings")
        : List.of("/etc/yum.repos.d", "/etc/pki/rpm-gpg", "/etc/dnf/vars", "/etc/yum/vars");
  }

  /**
   * The image's package configuration copied out of the session (sources, keyrings), so the
   * appliance can close before the network work starts.
   */
  static ImageFiles snapshot(ImageFiles files, Plan plan) throws IOException {
    Map<String, byte[]> copy = new LinkedHashMap<>();
    Map<String, List<String>> dirs = new LinkedHashMap<>();
    walkConfiguration(files, plan, copy::put, dirs::put);
    return new ImageFiles() {
      @Override
      public byte[] read(String path) {
        return copy.get(path);
      }

      @Override
      public List<String> list(String dir) {
        return dirs.getOrDefault(dir, List.of());
      }
    };
  }

  private static void walk(ImageFiles files, String dir, Map<String, byte[]> copy, Map<String, List<String>> dirs,
      int depth) throws IOException {
    List<String> names = files.list(dir);
    if (names.isEmpty() || depth > 3) {
      return;
    }
    dirs.put(dir, names);
    for (String n : names) {
      String p = dir + "/" + n;
      byte[] b = files.read(p);
      if (b != null) {
        copy.put(p, b);
      } else {
        walk(files, p, copy, dirs, depth + 1);
      }
    }
  }

  /**
   * Resolves with the image's facts already read (the build passes its open session's files;
   * tests a directory tree); {@code base} is the base image's digest when it came from the store.
   */
  public Lock lock(Plan plan, ImagePackages image, Fetcher fetcher, Digest base) throws IOException {
    HttpTransport http = fetcher.http();
    Downloads downloads = new Downloads(http, fetcher.store(), events);
    Map<String, byte[]> keyFiles = fetcher.keyFiles(plan, null);
    boolean apt = plan.base().family().equals("apt");
    String arch = plan.base().arch();
    Universe universe;
    if (apt) {
      List<AptRepository> repos = new ArrayList<>(AptSources.read(image.files(), arch));
      for (Plan.Repository r : plan.repositories()) {
        repos.add(new AptRepository(r.name(), r.url(), r.suite() == null ? "/" : r.suite(), r.components(),
            List.of(arch), Signatures.pinned(keyFiles.get(r.name()), r.keyFingerprint(), "repository " + r.name()),
            "recipe"));
      }
      universe = new AptIndexer(http, downloads, events).index(repos, arch);
    } else {
      String basearch = Platform.rpmArch(arch);
      List<RpmRepository> repos = new ArrayList<>(YumRepos.read(image.files(), basearch));
      for (Plan.Repository r : plan.repositories()) {
        repos.add(new RpmRepository(r.name(), List.of(r.url()), null,
            Signatures.pinned(keyFiles.get(r.name()), r.keyFingerprint(), "repository " + r.name()),
            r.name().equals("kubernetes") ? RpmRepository.MetadataSignature.REQUIRED
                : RpmRepository.MetadataSignature.IF_PRESENT, "recipe"));
      }
      universe = new RpmIndexer(http, downloads, events).index(repos, basearch);
    }
    List<Resolver.Request> requests = new ArrayList<>();
    for (Plan.PlannedPackage p : plan.packages()) {
      requests.add(new Resolver.Request(new PackageRef(p.name(), p.version()), p.repository(), p.reason()));
    }
    Resolver.Resolution res;
    try (EventSink.Step step = events.step("resolve packages", requests.size() + " requested, "
        + image.installed().size() + " installed, " + universe.size() + " available")) {
      res = new Resolver(universe, image.installed()).resolve(requests);
      if (!res.ok()) {
        throw AssemblerException.failed("resolving the packages of " + plan.name() + ": "
            + String.join("; ", res.problems()), "add the repository that has them, or change the recipe's packages");
      }
      step.ok(res.install().size() + " to install");
    }
    List<Lock.Package> pkgs = new ArrayList<>();
    for (Candidate c : res.install()) {
      pkgs.add(new Lock.Package(c.name(), c.version(), c.arch(), repositoryName(c.source()), c.url(), c.sha256(),
          c.size()));
    }
    List<Lock.Image> images = resolveImages(plan);
    Map<String, String> keys = new java.util.TreeMap<>();
    keyFiles.forEach((name, bytes) -> keys.put(name, Digest.sha256(bytes).toString()));
    return new Lock(Lock.FORMAT_VERSION, plan.name(), LockFile.inputs(plan), image.installedDigest(),
        plan.base().family(), arch, plan.base().url() != null && base != null ? base.toString() : null, keys, pkgs,
        images);
  }

  static String repositoryName(Source s) {
    return s.image() ? Source.DISTRO : s.name();
  }

  /**
   * Every image reference resolved to a digest: what a pre-fetched archive of the plan holds for
   * it (verified as it is read), else what its registry (or mirror) serves now.
   */
  List<Lock.Image> resolveImages(Plan plan) throws IOException {
    if (plan.images().isEmpty()) {
      return List.of();
    }
    List<Lock.Image> out = new ArrayList<>();
    RegistrySource registry = null;
    try (EventSink.Step step = events.step("resolve images", plan.images().size() + " references");
        ImageArchives archives = ImageArchives.open(plan.imageArchives().stream().map(Path::of).toList(),
            ContentStore.open(settings.cacheDir()), events)) {
      for (Plan.PlannedImage i : plan.images()) {
        ImageRef ref = ImageRef.parse(i.ref());
        io.hypervisor.assembler.oci.ImageSource archive = archives.find(i.ref());
        if (archive != null) {
          out.add(new Lock.Image(i.ref(), archive.resolve(ref).digest().toString()));
          continue;
        }
        if (registry == null) {
          registry = new RegistrySource(Fetcher.hosts(plan), CredentialStore.fromEnvironment(environment),
              httpSettings, events, environment);
        }
        out.add(new Lock.Image(i.ref(), registry.resolve(ref).digest().toString()));
      }
      step.ok(out.size() + " digests");
    } finally {
      if (registry != null) {
        registry.close();
      }
    }
    return out;
  }
}
