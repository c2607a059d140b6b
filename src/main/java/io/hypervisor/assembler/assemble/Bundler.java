package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.fetch.Bundle;
import io.hypervisor.assembler.fetch.Fetcher;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.layout.LayoutWriter;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.LockFile;
import io.hypervisor.assembler.plan.Plan;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The air-gap workflow's two ends. {@code fetch}: on a connected host, lock the recipe, fetch and
 * verify everything it needs and write one bundle (an OCI layout for the images, so skopeo and
 * ctr read it too, plus the lock, the package files, the repository keys and optionally the base
 * image; signed when a key is given). {@code open}: at the site, check the bundle's signature,
 * stream every blob into the content store under its listed digest, and refuse it — before any
 * image is touched — with every missing, unlisted or bad item and everything the recipe's lock
 * needs that it lacks.
 */
public final class Bundler {
  /** A bundle written: where, its manifest, and its size. */
  public record Written(Path file, Bundle.Manifest manifest, long bytes) {}

  /** A bundle opened: its lock (written beside the work files for the build to follow) and what it held. */
  public record Opened(Lock lock, Path lockFile, Bundle.Contents contents) {}

  static final String LOCK = "lock.json";

  private final Settings settings;
  private final EventSink events;

  public Bundler(Settings settings, EventSink events) {
    this.settings = settings;
    this.events = events;
  }

  /** Locks and fetches the plan, then writes the bundle (atomically: complete or absent). */
  public Written fetch(Plan plan, Path out, boolean withBase, byte[] signKey, char[] passphrase) {
    if (settings.offline()) {
      throw AssemblerException.input("fetch needs the network, and this run is offline", "leave out --offline");
    }
    if (withBase && plan.base().url() == null) {
      throw AssemblerException.input("--with-base bundles a downloaded base image, and this recipe's base is the local "
          + "file " + plan.base().path(), "copy the base image to the site yourself, or give base.url in the recipe");
    }
    Locker.Resolved r = new Locker(settings, events).resolve(plan);
    Lock lock = r.lock();
    Fetcher fetcher = r.fetcher();
    ContentStore store = fetcher.store();
    try {
      Map<String, byte[]> keyFiles = fetcher.keyFiles(plan, lock);
      fetcher.packages(lock, plan, r.config(), keyFiles);
      List<ImageRecord> images = fetcher.images(plan, lock);

      List<Bundle.SmallFile> small = new ArrayList<>();
      small.add(Bundle.small(LOCK, "lock", LockFile.json(lock).getBytes(StandardCharsets.UTF_8)));
      small.add(Bundle.small("oci-layout", "layout", "{\"imageLayoutVersion\":\"1.0.0\"}"
          .getBytes(StandardCharsets.UTF_8)));
      small.add(Bundle.small("index.json", "layout", LayoutWriter.indexJson(images)));
      List<Bundle.Item> items = new ArrayList<>();
      small.forEach(f -> items.add(f.item()));
      for (Lock.Package p : lock.packages()) {
        items.add(Bundle.blob("package", p.name() + " " + p.version(), Digest.ofSha256Hex(p.sha256()), p.size()));
      }
      lock.keys().forEach((repo, digest) -> {
        Digest d = Digest.parse(digest);
        items.add(Bundle.blob("key", repo, d, store.size(d)));
      });
      Map<Digest, String> owner = new HashMap<>();
      for (ImageRecord i : images) {
        for (Descriptor d : i.blobs()) {
          owner.putIfAbsent(d.digest(), i.ref().toString());
        }
      }
      for (Descriptor d : LayoutWriter.blobs(images)) {
        items.add(Bundle.blob("image-blob", owner.get(d.digest()), d.digest(), d.size()));
      }
      if (withBase) {
        // Listed by sha256 like every bundle file, also when the base is pinned by SHA512SUMS.
        Digest sha256 = store.alias(r.base().digest(), "sha256");
        items.add(Bundle.blob("base", plan.base().url(), sha256, store.size(sha256)));
      }
      Bundle.Manifest m = new Bundle.Manifest(Bundle.FORMAT, plan.name(), items);
      byte[] signature = signKey == null ? null
          : Signatures.sign(Bundle.manifestJson(m), signKey, passphrase, "the bundle manifest");
      Path abs = out.toAbsolutePath();
      Files.createDirectories(abs.getParent());
      Path tmp = abs.resolveSibling("." + abs.getFileName() + ".partial");
      try (EventSink.Step s = events.step("write bundle", out.toString())) {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
          Bundle.write(ch, store, m, signature, small);
        }
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        s.ok(m.items().size() + " files, " + (Files.size(abs) >> 20) + " MiB" + (signature != null ? ", signed" : ""));
      } finally {
        Files.deleteIfExists(tmp);
      }
      return new Written(abs, m, Files.size(abs));
    } catch (IOException e) {
      throw AssemblerException.failed("fetching " + plan.name() + " into a bundle: " + e.getMessage(),
          "the content store keeps what was fetched; run again once the cause is fixed");
    }
  }

  /** Checks a bundle and imports it into the content store; refused with every problem listed. */
  public Opened open(Path bundle, Plan plan, byte[] trustKey) {
    if (!Files.isRegularFile(bundle)) {
      throw AssemblerException.input("no bundle at " + bundle, "give the file written by assemble fetch");
    }
    try {
      ContentStore store = ContentStore.open(settings.cacheDir());
      Bundle.Contents c;
      try (EventSink.Step s = events.step("open bundle", bundle.toString());
          InputStream in = new java.io.BufferedInputStream(Files.newInputStream(bundle), 1 << 16)) {
        c = Bundle.read(in, store, check(trustKey));
        s.ok(c.manifest().items().size() + " files" + (c.signed() ? (trustKey != null ? ", signature good"
            : ", signature present but not checked (no --trust-key)") : ""));
      }
      List<String> problems = new ArrayList<>(c.problems());
      Lock lock = null;
      Path lockFile = null;
      byte[] lockBytes = c.files().get(LOCK);
      if (lockBytes == null) {
        problems.add("the bundle has no " + LOCK);
      } else if (c.problems().stream().noneMatch(p -> p.startsWith("signature:"))) {
        Files.createDirectories(settings.workDir());
        lockFile = settings.workDir().resolve("bundle-" + c.manifest().name() + ".lock.json");
        Files.write(lockFile, lockBytes);
        lock = LockFile.read(lockFile);
        List<String> mismatch = LockFile.mismatch(lock, plan);
        if (!mismatch.isEmpty()) {
          problems.add("the bundle's lock does not answer this recipe: " + String.join("; ", mismatch));
        }
        problems.addAll(baseAlias(lock, c.manifest(), store));
        problems.addAll(coverage(lock, c.manifest(), store::contains));
      }
      if (!problems.isEmpty()) {
        throw AssemblerException.input("the bundle " + bundle + " cannot be used: " + String.join("; ", problems),
            "write a fresh one on a connected host: assemble fetch RECIPE --bundle " + bundle.getFileName());
      }
      return new Opened(lock, lockFile, c);
    } catch (IOException e) {
      throw AssemblerException.input("reading the bundle " + bundle + ": " + e.getMessage(),
          "is it a file written by assemble fetch? assemble bundle verify checks it");
    }
  }

  /** What bundle ls/verify report: the recipe name, each file as a line, signed or not, and every problem. */
  public record Report(String name, List<String> files, boolean signed, List<String> problems) {
    public boolean ok() {
      return problems.isEmpty();
    }
  }

  /** Reads a bundle without keeping anything (bundle ls/verify); checks the signature when a key is given. */
  public static Report check(Path bundle, byte[] trustKey) throws IOException {
    io.hypervisor.assembler.model.SmallFiles.requireRegular(bundle, "bundle");
    try (InputStream in = new java.io.BufferedInputStream(Files.newInputStream(bundle), 1 << 16)) {
      Bundle.Contents c = Bundle.read(in, Bundle.BlobSink.checking(), check(trustKey));
      return new Report(c.manifest().name(), Bundle.describe(c.manifest()).lines().toList(), c.signed(),
          c.problems());
    }
  }

  /**
   * What the lock needs that the bundle's manifest does not list: packages, keys, image roots, and
   * a downloaded base image unless the site's store already has it ({@code have}).
   */
  static List<String> coverage(Lock lock, Bundle.Manifest m, java.util.function.Predicate<Digest> have) {
    Set<String> listed = new LinkedHashSet<>();
    m.items().forEach(i -> listed.add(i.sha256()));
    List<String> missing = new ArrayList<>();
    for (Lock.Package p : lock.packages()) {
      if (!listed.contains(p.sha256())) {
        missing.add("missing package " + p.name() + " " + p.version());
      }
    }
    lock.keys().forEach((repo, digest) -> {
      if (!listed.contains(Digest.parse(digest).encoded())) {
        missing.add("missing key of repository " + repo);
      }
    });
    for (Lock.Image i : lock.images()) {
      if (!listed.contains(Digest.parse(i.digest()).encoded())) {
        missing.add("missing image " + i.ref() + " (" + i.digest() + ")");
      }
    }
    if (lock.base() != null && !listed.contains(Digest.parse(lock.base()).encoded())
        && !have.test(Digest.parse(lock.base()))) {
      missing.add("missing base image " + lock.base() + " (fetch with --with-base, or put it in the content store)");
    }
    return missing;
  }

  /**
   * Makes a bundled base image reachable under the lock's digest when that is not sha256 (a
   * base pinned by SHA512SUMS travels as its sha256), checking that the two name the same bytes.
   */
  private static List<String> baseAlias(Lock lock, Bundle.Manifest m, ContentStore store) throws IOException {
    if (lock.base() == null) {
      return List.of();
    }
    Digest want = Digest.parse(lock.base());
    for (Bundle.Item i : m.items()) {
      Digest have = Digest.ofSha256Hex(i.sha256());
      if (i.kind().equals("base") && !want.algorithm().equals("sha256") && store.contains(have)) {
        Digest got = store.alias(have, want.algorithm());
        if (!got.equals(want)) {
          return List.of("bad base image " + i.name() + ": it is " + got + ", the lock wants " + want);
        }
      }
    }
    return List.of();
  }

  private static Bundle.SignatureCheck check(byte[] trustKey) throws IOException {
    if (trustKey == null) {
      return null;
    }
    var keys = Signatures.keyring(trustKey);
    return (manifest, signature) -> Signatures.verifyDetached(manifest, signature, keys, "the bundle manifest");
  }
}
