package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.fetch.ImageFinder;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.ImageSource;
import io.hypervisor.assembler.oci.Puller;
import io.hypervisor.assembler.oci.Wire;
import io.hypervisor.assembler.oci.archive.ArchiveSource;
import io.hypervisor.assembler.oci.layout.LayoutSource;
import io.hypervisor.assembler.oci.layout.LayoutWriter;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistrySource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code assemble pull} and {@code assemble inspect} do: images from registries (per-host
 * settings from a certs.d directory and --mirror) or archives, into the content store, and on to
 * OCI layout tars or directories.
 */
public final class ImageTools {
  /**
   * How to reach images: registries (hosts configuration, mirrors, HTTP behaviour, offline or
   * not) and pre-fetched image archives ({@code --images-dir}), looked at before any registry.
   */
  public record Access(Path hostsDir, Map<String, List<String>> mirrors, HttpSettings http,
      Map<String, String> environment, List<Path> archives) {
    public Access {
      archives = archives == null ? List.of() : List.copyOf(archives);
    }

    /** Registry access with default HTTP behaviour and the process environment. */
    public static Access of(Path hostsDir, Map<String, List<String>> mirrors) {
      return new Access(hostsDir, mirrors, HttpSettings.defaults(), System.getenv(), List.of());
    }

    /** The same with image archives to look in first, and no network at all when {@code offline}. */
    public Access local(List<Path> imageArchives, boolean offline) {
      return new Access(hostsDir, mirrors, http.withOffline(offline), environment, imageArchives);
    }
  }

  /** Opens the registries of {@code a} (only when an image is found nowhere local). */
  ImageFinder finder(Access a, ContentStore store) throws IOException {
    return new ImageFinder(store, a.archives(), a.http().offline(), () -> new RegistrySource(hosts(a),
        CredentialStore.fromEnvironment(a.environment()), a.http(), events, a.environment()), events);
  }

  /** The refusal for images found nowhere local in an offline run. */
  static AssemblerException offline(List<String> missing) {
    return AssemblerException.input("network access refused (--offline): " + missing.size() + " images are in "
        + "neither the content store (pinned by digest) nor an image archive: " + String.join(", ", missing),
        "pin them by digest once pulled (REF@sha256:…), give their tarballs with --images-dir DIR, or drop --offline");
  }

  /** A pulled image, for the CLI to print. */
  public record Pulled(String reference, String digest, String mediaType, List<String> platforms, long bytes) {}

  /** One platform's summary in an inspection. */
  public record PlatformSummary(String platform, String manifest, String config, List<String> layers, long size) {}

  /** An inspection: the top-level object and each platform's manifest and config. */
  public record Inspection(String reference, String source, String digest, String mediaType,
      List<String> indexPlatforms, List<PlatformSummary> platforms) {}

  private final Settings settings;
  private final EventSink events;

  public ImageTools(Settings settings, EventSink events) {
    this.settings = settings;
    this.events = events;
  }

  ContentStore store() {
    try {
      return ContentStore.open(settings.cacheDir());
    } catch (IOException e) {
      throw AssemblerException.host("cannot open the content store " + settings.cacheDir() + ": " + e.getMessage(),
          "check the cache directory (--cache) is writable");
    }
  }

  static HostsConfig hosts(Access a) throws IOException {
    if (a.mirrors() != null && !a.mirrors().isEmpty()) {
      Map<String, List<HostsConfig.MirrorSpec>> m = new LinkedHashMap<>();
      a.mirrors().forEach((reg, urls) -> m.put(reg, urls.stream()
          .map(u -> new HostsConfig.MirrorSpec(u, List.of("pull", "resolve"), null, false)).toList()));
      return HostsConfig.of(m);
    }
    return a.hostsDir() == null ? HostsConfig.empty() : HostsConfig.load(a.hostsDir());
  }

  /** An image source for a reference or an archive path. */
  ImageSource source(String what, Access access, ContentStore store) throws IOException {
    Path p = Path.of(what);
    if (Files.isDirectory(p)) {
      return LayoutSource.directory(p);
    }
    if (Files.isRegularFile(p)) {
      return ArchiveSource.open(p, store);
    }
    return new RegistrySource(hosts(access), CredentialStore.fromEnvironment(access.environment()), access.http(),
        events, access.environment());
  }

  static ImageRef ref(String s) {
    try {
      return ImageRef.parse(s);
    } catch (IllegalArgumentException e) {
      throw AssemblerException.input("\"" + s + "\" is not an image reference: " + e.getMessage(),
          "e.g. registry.k8s.io/pause:3.10.1");
    }
  }

  /** Pulls references into the content store and optionally writes them out. */
  public List<Pulled> pull(List<String> refs, List<Platform> platforms, Access access, Path ociArchive, Path ociDir) {
    ContentStore store = store();
    List<ImageRecord> records = new ArrayList<>();
    List<Pulled> out = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    try (AutoCloseable lease = store.lease(); ImageFinder finder = finder(access, store)) {
      for (String r : refs) {
        ImageRef ref = ref(r);
        try (EventSink.Step step = events.step("pull " + ref, null)) {
          // Every blob was verified while it streamed in (or re-hashed when it was already
          // cached), so there is nothing left to check here.
          ImageFinder.Found f = finder.find(ref, ref.toString(), platforms);
          if (f == null) {
            missing.add(ref.toString());
            step.ok("missing");
            continue;
          }
          ImageRecord img = f.image();
          records.add(img);
          out.add(new Pulled(ref.toString(), img.target().digest().toString(), img.target().mediaType(),
              img.platforms().stream().map(p -> p.platform().toString()).toList(), img.size()));
          step.ok(img.target().digest().shortHex() + ", " + img.size() + " bytes");
        }
      }
      if (!missing.isEmpty()) {
        throw offline(missing);
      }
      if (ociArchive != null) {
        try (EventSink.Step step = events.step("write " + ociArchive, null)) {
          LayoutWriter.writeTar(records, store, ociArchive);
          step.ok();
        }
      }
      if (ociDir != null) {
        try (EventSink.Step step = events.step("write " + ociDir, null)) {
          LayoutWriter.writeDirectory(records, store, ociDir);
          step.ok();
        }
      }
    } catch (AssemblerException e) {
      throw e;
    } catch (Exception e) {
      throw failure(e);
    }
    return out;
  }

  /** Index, manifests and configs of an image (no layers are downloaded). */
  public Inspection inspect(String what, Access access, Platform only) {
    ContentStore store = store();
    try (AutoCloseable lease = store.lease(); ImageSource src = source(what, access, store)) {
      ImageRef ref;
      if (src instanceof RegistrySource) {
        ref = ref(what);
      } else {
        List<String> names = src instanceof ArchiveSource a ? a.names()
            : new ArrayList<>(((LayoutSource) src).names().keySet());
        if (names.size() != 1) {
          throw AssemblerException.input(what + " holds " + names.size() + " images: " + String.join(", ", names),
              "inspect one of them: assemble inspect <reference> needs a registry; pull from the archive instead");
        }
        ref = ref(names.get(0).contains("/") ? names.get(0) : "localhost/" + names.get(0));
      }
      Descriptor top = src.resolve(ref);
      src.fetch(ref, top, store);
      byte[] bytes = store.read(top.digest());
      List<String> indexPlatforms = new ArrayList<>();
      List<Descriptor> manifests = new ArrayList<>();
      if (MediaType.isIndex(top.mediaType())) {
        for (Wire.DescriptorJson d : Wire.index(bytes).manifests()) {
          Descriptor m = d.toModel();
          String p = m.platform() == null ? "?" : m.platform().toString();
          boolean attestation = io.hypervisor.assembler.oci.Platforms.isAttestation(m);
          indexPlatforms.add(p + (attestation ? " (attestation)" : "") + " " + m.digest());
          if (!attestation && (only == null || (m.platform() != null
              && io.hypervisor.assembler.oci.Platforms.matches(m.platform(), only)))) {
            manifests.add(m);
          }
        }
      } else {
        manifests.add(top);
      }
      List<PlatformSummary> platforms = new ArrayList<>();
      for (Descriptor m : manifests) {
        src.fetch(ref, m, store);
        Wire.ManifestJson mj = Wire.manifest(store.read(m.digest()));
        Descriptor config = mj.config().toModel();
        src.fetch(ref, config, store);
        Wire.ConfigJson c = Wire.config(store.read(config.digest()));
        long size = mj.layers().stream().mapToLong(Wire.DescriptorJson::size).sum();
        platforms.add(new PlatformSummary(c.os() + "/" + c.architecture() + (c.variant() == null ? "" : "/" + c.variant()),
            m.digest().toString(), config.digest().toString(),
            mj.layers().stream().map(l -> l.digest() + " " + l.size() + " " + l.mediaType()).toList(), size));
      }
      return new Inspection(ref.toString(), src.describe(), top.digest().toString(), top.mediaType(), indexPlatforms,
          platforms);
    } catch (AssemblerException e) {
      throw e;
    } catch (Exception e) {
      throw failure(e);
    }
  }

  /** Store entries, for {@code cache ls}. */
  public List<ContentStore.BlobInfo> list() {
    try {
      return store().list();
    } catch (IOException e) {
      throw failure(e);
    }
  }

  /** The step cache's layers, for {@code cache ls}. */
  public List<io.hypervisor.assembler.stepcache.StepCache.Layer> layers() {
    try {
      return io.hypervisor.assembler.stepcache.StepCache.open(settings.cacheDir()).list();
    } catch (IOException e) {
      throw failure(e);
    }
  }

  /** Re-hashes every blob; returns the corrupt ones (already removed). */
  public List<Digest> verifyAll() {
    ContentStore store = store();
    List<Digest> bad = new ArrayList<>();
    try {
      List<ContentStore.BlobInfo> all = store.list();
      long total = all.stream().mapToLong(ContentStore.BlobInfo::size).sum();
      long done = 0;
      for (ContentStore.BlobInfo b : all) {
        if (!store.verify(b.digest())) {
          bad.add(b.digest());
        }
        done += b.size();
        events.progress("verify", done, total, "bytes");
      }
      return bad;
    } catch (IOException e) {
      throw failure(e);
    }
  }

  static AssemblerException failure(Exception e) {
    if (e instanceof io.hypervisor.assembler.oci.ImageException || e instanceof io.hypervisor.assembler.content.DigestMismatchException) {
      return AssemblerException.failed(e.getMessage(), null, e);
    }
    String hint = e.getMessage() != null && e.getMessage().contains("401")
        ? "check the registry credentials (docker config.json, credential helper)"
        : "check the registry address, mirrors (--mirror, --hosts-dir) and network";
    return AssemblerException.failed(AssemblerException.describe(e), hint, e);
  }
}
