package io.hypervisor.assembler.oci;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.model.Platform;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Copies an image from any {@link ImageSource} into the content store: resolves the reference,
 * reads the index or manifest, picks the wanted platforms, and fetches configs and layers with a
 * bounded number in parallel. Blobs already in the store are re-hashed first (unless told to
 * trust it) and fetched again when corrupt. The top-level descriptor is kept as the source
 * served it, so the image keeps its digest wherever it is written next.
 */
public final class Puller implements AutoCloseable {
  static final long MAX_MANIFEST = 4L << 20;
  private final ContentStore store;
  private final ExecutorService pool;
  private final boolean verifyCached;

  public Puller(ContentStore store, int parallelism, boolean verifyCached) {
    this.store = store;
    this.pool = Executors.newFixedThreadPool(Math.max(1, parallelism), r -> {
      Thread t = new Thread(r, "pull");
      t.setDaemon(true);
      return t;
    });
    this.verifyCached = verifyCached;
  }

  public ImageRecord pull(ImageSource src, ImageRef ref, List<Platform> platforms) throws IOException {
    if (platforms.isEmpty()) {
      throw new IllegalArgumentException("no platform to pull");
    }
    Descriptor top = src.resolve(ref);
    if (MediaType.isSchema1(top.mediaType())) {
      throw schema1(ref);
    }
    if (ref.digest() != null && !ref.digest().equals(top.digest())) {
      throw new ImageException(ref + " resolved to " + top.digest() + " at " + src.describe()
          + ", not to the pinned digest");
    }
    byte[] topBytes = manifestBytes(src, ref, top);
    List<Descriptor> children = new ArrayList<>();
    List<ImageRecord.PlatformImage> images = new ArrayList<>();
    if (MediaType.isIndex(top.mediaType())) {
      for (Wire.DescriptorJson d : Wire.index(topBytes).manifests()) {
        children.add(d.toModel());
      }
      for (Platform want : platforms) {
        Descriptor child = Platforms.select(children, want, ref.toString());
        byte[] mb = manifestBytes(src, ref, child);
        if (MediaType.isIndex(child.mediaType())) {
          // A nested index (image-index.md: SHOULD be supported): select again inside it.
          List<Descriptor> nested = new ArrayList<>();
          for (Wire.DescriptorJson d : Wire.index(mb).manifests()) {
            nested.add(d.toModel());
          }
          child = Platforms.select(nested, want, ref.toString());
          mb = manifestBytes(src, ref, child);
        }
        images.add(platformImage(src, ref, want, child, mb));
      }
    } else if (MediaType.isManifest(top.mediaType())) {
      ImageRecord.PlatformImage img = platformImage(src, ref, null, top, topBytes);
      boolean wanted = platforms.stream().anyMatch(p -> Platforms.matches(img.platform(), p));
      if (!wanted) {
        throw new ImageException(ref + " is a single-platform image for " + img.platform()
            + ", not for " + platforms.stream().map(Platform::toString).toList());
      }
      images.add(img);
    } else {
      throw new ImageException(ref + " at " + src.describe() + " is a " + top.mediaType()
          + ", not an image index or manifest");
    }
    List<Future<?>> jobs = new ArrayList<>();
    for (ImageRecord.PlatformImage img : images) {
      for (Descriptor layer : img.layers()) {
        if (layer.mediaType().contains("foreign") || layer.annotations().containsKey("urls")) {
          continue;
        }
        jobs.add(pool.submit(() -> {
          ensure(src, ref, layer);
          return null;
        }));
      }
    }
    for (Future<?> f : jobs) {
      try {
        f.get();
      } catch (ExecutionException e) {
        jobs.forEach(j -> j.cancel(true));
        if (e.getCause() instanceof IOException io) {
          throw io;
        }
        throw new IOException("pulling " + ref + ": " + AssemblerException.describe(e.getCause()), e.getCause());
      } catch (InterruptedException e) {
        jobs.forEach(j -> j.cancel(true));
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted pulling " + ref);
      }
    }
    return new ImageRecord(ref.withDigest(top.digest()), top, children, images, src.describe());
  }

  private ImageRecord.PlatformImage platformImage(ImageSource src, ImageRef ref, Platform want,
      Descriptor manifest, byte[] bytes) throws IOException {
    if (MediaType.isSchema1(manifest.mediaType())) {
      throw schema1(ref);
    }
    Wire.ManifestJson m = Wire.manifest(bytes);
    if (m.config() == null || m.layers() == null) {
      throw new ImageException(ref + ": manifest " + manifest.digest() + " has no config or layers");
    }
    Descriptor config = m.config().toModel();
    ensure(src, ref, config);
    Wire.ConfigJson c = Wire.config(store.read(config.digest()));
    Platform platform = want != null ? want
        : new Platform(c.os() == null ? "linux" : c.os(), c.architecture() == null ? "amd64" : c.architecture(),
            c.variant());
    List<Descriptor> layers = new ArrayList<>();
    for (Wire.DescriptorJson l : m.layers()) {
      layers.add(l.toModel());
    }
    return new ImageRecord.PlatformImage(platform, manifest, config, layers);
  }

  private byte[] manifestBytes(ImageSource src, ImageRef ref, Descriptor d) throws IOException {
    if (d.size() > MAX_MANIFEST) {
      throw new ImageException(ref + ": manifest " + d.digest() + " is " + d.size() + " bytes, more than "
          + MAX_MANIFEST + " allowed");
    }
    ensure(src, ref, d);
    return store.read(d.digest());
  }

  /** Puts a blob in the store unless a verified copy is already there. */
  private void ensure(ImageSource src, ImageRef ref, Descriptor d) throws IOException {
    if (store.contains(d.digest())) {
      if (store.size(d.digest()) == d.size() && (!verifyCached || store.verify(d.digest()))) {
        return;
      }
      store.delete(d.digest());
    }
    src.fetch(ref, d, store);
    if (!store.contains(d.digest())) {
      throw new IOException(src.describe() + " did not deliver " + d.digest() + " of " + ref);
    }
  }

  private static ImageException schema1(ImageRef ref) {
    return new ImageException(ref + " is a Docker schema 1 manifest, which is no longer supported "
        + "(containerd 2 refuses it too); use an image published with schema 2 or OCI manifests");
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
