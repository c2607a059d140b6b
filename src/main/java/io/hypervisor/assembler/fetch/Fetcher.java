package io.hypervisor.assembler.fetch;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.Authenticator;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.ImageSource;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistrySource;
import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Downloads;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.pkgrepo.Source;
import io.hypervisor.assembler.pkgrepo.rpm.RpmFile;
import io.hypervisor.assembler.pkgrepo.rpm.RpmRepository;
import io.hypervisor.assembler.pkgrepo.rpm.YumRepos;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.Plan;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;

/**
 * Fills the content store with what a locked plan needs, verifying everything on the way in:
 * the base image, the repositories' keys, the lock's package files and the plan's images. What
 * the store already holds under a digest the lock names is used as it is, so a build from a
 * lock with a warm cache touches no network (and the transport is only created when needed, so
 * an offline build fails at the first thing that is really missing, naming it).
 */
public final class Fetcher {
  /** What to do on a connected host when an offline run lacks something. */
  public static final String OFFLINE_HINT = "on a connected host run: assemble fetch RECIPE --bundle site.tar "
      + "(add --with-base for a downloaded base image), then here: assemble RECIPE --bundle site.tar";

  /** The base image on disk, and its digest when it came through the store (or the recipe pinned it). */
  public record Base(Path path, Digest digest) {}

  private final ContentStore store;
  private final HttpSettings httpSettings;
  private final Map<String, String> environment;
  private final EventSink events;
  private HttpTransport http;

  public Fetcher(ContentStore store, HttpSettings httpSettings, Map<String, String> environment, EventSink events) {
    this.store = store;
    this.httpSettings = httpSettings;
    this.environment = environment;
    this.events = events;
  }

  public ContentStore store() {
    return store;
  }

  /** The transport, created on first use; refuses to exist in an offline run. */
  public synchronized HttpTransport http() {
    if (http == null) {
      http = new HttpTransport(httpSettings, events, environment, null);
    }
    return http;
  }

  /** The base image as a local file: the recipe's path (checked against its sha256 if given), or from the store. */
  public Base base(Plan.Base b, Lock lock) throws IOException {
    if (b.path() != null) {
      Path p = Path.of(b.path());
      if (!Files.isRegularFile(p)) {
        throw AssemblerException.input("the base image " + p + " does not exist", "check base.path in the recipe");
      }
      if (b.sha256() == null) {
        return new Base(p, null);
      }
      Digest want = Digest.ofSha256Hex(b.sha256());
      Digest got;
      try (InputStream in = Files.newInputStream(p)) {
        got = Digest.of(want.algorithm(), in);
      }
      if (!got.equals(want)) {
        throw new IOException("the base image " + p + " has " + got + ", not the recipe's " + want);
      }
      return new Base(p, want);
    }
    Digest d = b.sha256() != null ? Digest.ofSha256Hex(b.sha256())
        : lock != null && lock.base() != null ? Digest.parse(lock.base()) : signedChecksum(b);
    if (!store.contains(d)) {
      try (EventSink.Step step = events.step("fetch base image", b.url())) {
        new Downloads(http(), store, events).fetch(URI.create(b.url()), d, -1, "base image", null);
        step.ok(d.shortHex());
      }
    }
    return new Base(store.path(d), d);
  }

  /** The image's digest from a checksums file (SHA256SUMS, SHA512SUMS) whose detached signature verifies with the pinned key. */
  Digest signedChecksum(Plan.Base b) throws IOException {
    if (b.checksumsUrl() == null || b.checksumsSignatureUrl() == null) {
      throw new IOException("the base image " + b.url() + " has neither a sha256 nor signed checksums");
    }
    PGPPublicKeyRingCollection key = Signatures.load(http(), b.checksumsKeyPath(), b.checksumsKeyUrl(),
        b.checksumsKeyFingerprint(), "the base image's checksums");
    byte[] sums = get(b.checksumsUrl());
    Signatures.verifyDetached(sums, get(b.checksumsSignatureUrl()), key, b.checksumsUrl());
    String name = b.url().substring(b.url().lastIndexOf('/') + 1);
    for (String line : new String(sums, StandardCharsets.UTF_8).split("\n")) {
      String[] f = line.trim().split("\\s+", 2);
      if (f.length == 2 && f[1].replaceFirst("^\\*", "").equals(name)) {
        String hex = f[0].toLowerCase(java.util.Locale.ROOT);
        return Digest.parse((hex.length() == 128 ? "sha512:" : "sha256:") + hex);
      }
    }
    throw new IOException(b.checksumsUrl() + " lists no checksum for " + name);
  }

  private byte[] get(String url) throws IOException {
    HttpTransport.Response r = http().get(URI.create(url), Map.of(), Authenticator.NONE, 16 << 20);
    if (!r.ok()) {
      throw new IOException("fetching " + url + ": HTTP " + r.status());
    }
    return r.body();
  }

  /**
   * Each recipe repository's key file as fetched (or read), by repository name: from the store
   * when the lock names its digest, else loaded and stored; it must hold the pinned key.
   */
  public Map<String, byte[]> keyFiles(Plan plan, Lock lock) throws IOException {
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (Plan.Repository r : plan.repositories()) {
      String locked = lock == null ? null : lock.keys().get(r.name());
      byte[] bytes;
      if (locked != null && store.contains(Digest.parse(locked))) {
        bytes = store.read(Digest.parse(locked));
      } else if (r.keyPath() != null) {
        bytes = io.hypervisor.assembler.model.SmallFiles.read(Path.of(r.keyPath()),
            io.hypervisor.assembler.model.SmallFiles.KEY, "key of repository " + r.name());
      } else if (r.keyUrl() != null) {
        bytes = get(r.keyUrl());
      } else {
        throw new IOException("repository " + r.name() + " has no key; give key.url or key.path with a fingerprint");
      }
      Signatures.pinned(bytes, r.keyFingerprint(), "repository " + r.name());
      if (locked != null && !Digest.sha256(bytes).toString().equals(locked)) {
        throw new IOException("the key of repository " + r.name() + " is not the one the lock names (" + locked + ")");
      }
      store.put(Digest.sha256(bytes), bytes);
      out.put(r.name(), bytes);
    }
    return out;
  }

  /** Pinned key rings by repository name. */
  static Map<String, PGPPublicKeyRingCollection> keys(Plan plan, Map<String, byte[]> files) throws IOException {
    Map<String, PGPPublicKeyRingCollection> out = new LinkedHashMap<>();
    for (Plan.Repository r : plan.repositories()) {
      out.put(r.name(), Signatures.pinned(files.get(r.name()), r.keyFingerprint(), "repository " + r.name()));
    }
    return out;
  }

  /**
   * The keyring files the image gets for the recipe's repositories, by repository name: binary
   * ("dearmored") for apt's Signed-By, as the upstream instructions write them; armored for rpm.
   */
  public static Map<String, byte[]> keyrings(Plan plan, Map<String, byte[]> keyFiles) throws IOException {
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (var e : keys(plan, keyFiles).entrySet()) {
      out.put(e.getKey(), plan.base().family().equals("apt") ? Signatures.dearmored(e.getValue())
          : Signatures.armored(e.getValue()));
    }
    return out;
  }

  /**
   * The lock's package files, each verified against its sha256 and size; rpm packages must also
   * carry a good signature by their repository's key (the recipe's pinned key, or for the
   * image's own repositories the keys its .repo files name) before they are stored.
   */
  public void packages(Lock lock, Plan plan, ImageFiles image, Map<String, byte[]> keyFiles) throws IOException {
    List<Candidate> files = new ArrayList<>();
    for (Lock.Package p : lock.packages()) {
      files.add(new Candidate(p.name(), p.version(), p.architecture(), List.of(), List.of(), List.of(), List.of(),
          p.url(), p.size(), p.sha256(), new Source(p.repository(), "lock", p.repository().equals(Source.DISTRO))));
    }
    Downloads.Check check = null;
    if (plan.base().family().equals("dnf")) {
      Map<String, PGPPublicKeyRingCollection> keys = keys(plan, keyFiles);
      List<PGPPublicKeyRing> distro = new ArrayList<>();
      for (RpmRepository r : YumRepos.read(image, Platform.rpmArch(plan.base().arch()))) {
        r.keys().getKeyRings().forEachRemaining(distro::add);
      }
      keys.put(Source.DISTRO, new PGPPublicKeyRingCollection(distro));
      check = (c, file) -> {
        PGPPublicKeyRingCollection k = keys.get(c.source().name());
        if (k == null) {
          throw new IOException("no key for repository " + c.source().name() + " of " + c);
        }
        RpmFile.verify(file, k, c.name() + " " + c.version());
      };
    }
    List<Candidate> missing = files.stream().filter(c -> !store.contains(Digest.ofSha256Hex(c.sha256()))).toList();
    if (!missing.isEmpty() && httpSettings.offline()) {
      throw AssemblerException.input("network access refused: this run is offline, and " + missing.size()
          + " package files are not in the content store: " + String.join(", ", missing.stream()
              .map(c -> c.name() + " " + c.version()).toList()), OFFLINE_HINT);
    }
    if (missing.isEmpty() && check == null) {
      events.info("all " + files.size() + " packages are in the content store");
      return;
    }
    // Downloads re-checks stored files against the family rule without touching the network.
    new Downloads(missing.isEmpty() ? null : http(), store, events).packages(files, check);
  }

  /**
   * The plan's images for its platform, each pinned to the lock's digest when there is one: from
   * the content store when complete there, else from the plan's image archives (matched by name),
   * else from the registry. Offline, every image found nowhere is named at once.
   */
  public List<ImageRecord> images(Plan plan, Lock lock) throws IOException {
    Map<String, String> pinned = new LinkedHashMap<>();
    if (lock != null) {
      lock.images().forEach(i -> pinned.put(i.ref(), i.digest()));
    }
    List<ImageRecord> out = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    Platform platform = Platform.parse(plan.base().platform());
    try (ImageFinder finder = new ImageFinder(store, plan.imageArchives().stream().map(Path::of).toList(),
        httpSettings.offline(), () -> registry(plan), events)) {
      for (Plan.PlannedImage i : plan.images()) {
        String digest = pinned.get(i.ref());
        if (lock != null && digest == null) {
          throw new IOException("the lock has no digest for " + i.ref() + "; lock the plan again");
        }
        ImageRef ref = ImageRef.parse(digest == null ? i.ref() : i.ref() + "@" + digest);
        try (EventSink.Step step = events.step("pull " + i.ref(), digest)) {
          ImageFinder.Found f = finder.find(ref, i.ref(), List.of(platform));
          if (f == null) {
            missing.add(i.ref());
            step.ok("missing");
            continue;
          }
          out.add(f.image());
          step.ok(f.image().target().digest().shortHex() + (f.from().isEmpty() ? ""
              : f.from().equals("content store") ? " (content store)" : " from " + f.from()));
        }
      }
      for (Path unused : finder.unmatched(plan.images().stream().map(Plan.PlannedImage::ref).toList())) {
        events.warn("the image archive " + unused + " holds none of the plan's images");
      }
    }
    if (!missing.isEmpty()) {
      throw AssemblerException.input("network access refused: this run is offline, and " + missing.size()
          + " images are in neither the content store nor an image archive: " + String.join(", ", missing),
          OFFLINE_HINT + " (or give their tarballs with --images-dir DIR)");
    }
    return out;
  }

  private ImageSource registry(Plan plan) throws IOException {
    if (httpSettings.offline()) {
      throw AssemblerException.input("network access refused: this run is offline, and an image is missing from "
          + "the content store", OFFLINE_HINT);
    }
    return new RegistrySource(hosts(plan), CredentialStore.fromEnvironment(environment), httpSettings, events,
        environment);
  }

  /** The plan's registry mirrors as containerd's hosts configuration. */
  public static HostsConfig hosts(Plan plan) throws IOException {
    Map<String, List<HostsConfig.MirrorSpec>> mirrors = new LinkedHashMap<>();
    plan.mirrors().forEach((host, list) -> mirrors.put(host, list.stream().map(m -> new HostsConfig.MirrorSpec(
        m.url(), m.capabilities(), m.ca() == null ? null : Path.of(m.ca()), m.skipVerify())).toList()));
    return HostsConfig.of(mirrors);
  }
}
