package io.hypervisor.assembler.oci.archive;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.oci.ImageException;
import io.hypervisor.assembler.oci.ImageSource;
import io.hypervisor.assembler.oci.Wire;
import io.hypervisor.assembler.oci.layout.Archive;
import io.hypervisor.assembler.oci.layout.LayoutSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Any image archive as an image source. The archive is spooled into the content store once; then
 * an OCI layout (Docker 25+ save, ctr export, skopeo oci-archive) is read as such, and a legacy
 * docker-save archive ({@code manifest.json} with Config/RepoTags/Layers) is turned into one
 * Docker schema 2 manifest per entry.
 */
public final class ArchiveSource implements ImageSource {
  private final Path file;
  private final LayoutSource layout;
  private final Map<String, Descriptor> dockerImages;

  private ArchiveSource(Path file, LayoutSource layout, Map<String, Descriptor> dockerImages) {
    this.file = file;
    this.layout = layout;
    this.dockerImages = dockerImages;
  }

  /** Reads an archive into the store and works out what it holds. */
  public static ArchiveSource open(Path file, ContentStore store) throws IOException {
    Archive a = Archive.spool(file, store);
    LayoutSource layout = LayoutSource.archive(a);
    if (layout != null) {
      return new ArchiveSource(file, layout, Map.of());
    }
    byte[] manifest = a.small("manifest.json");
    if (manifest == null) {
      throw new ImageException(file + " is neither an OCI layout nor a docker-save archive (no index.json, "
          + "no manifest.json)");
    }
    Map<String, Descriptor> images = new LinkedHashMap<>();
    for (Wire.DockerSaveEntry e : Wire.dockerSaveManifest(manifest)) {
      Descriptor m = synthesise(file, a, e, store);
      List<String> tags = e.repoTags();
      if (tags.isEmpty()) {
        images.put(m.digest().toString(), m);
      }
      for (String t : tags) {
        images.put(ImageRef.parse(t).toString(), m);
      }
    }
    return new ArchiveSource(file, null, images);
  }

  /** A schema 2 manifest for one legacy entry, with config and layers by content digest. */
  private static Descriptor synthesise(Path file, Archive a, Wire.DockerSaveEntry e, ContentStore store)
      throws IOException {
    String configPath = e.config();
    Digest config = a.stored(configPath);
    byte[] configBytes = a.small(configPath);
    if (configBytes != null) {
      config = store.put(configBytes);
    }
    if (config == null) {
      throw new ImageException(file + ": manifest.json names config " + configPath + ", which is not in the archive");
    }
    List<Map<String, Object>> layers = new ArrayList<>();
    for (String l : e.layers()) {
      Digest d = a.stored(l);
      byte[] inline = a.small(l);
      if (inline != null) {
        d = store.put(inline);
      }
      if (d == null) {
        throw new ImageException(file + ": manifest.json names layer " + l + ", which is not in the archive");
      }
      boolean gzip;
      try (InputStream in = store.open(d)) {
        gzip = in.read() == 0x1f && in.read() == 0x8b;
      }
      layers.add(Map.of("mediaType", gzip ? MediaType.DOCKER_LAYER_GZIP : "application/vnd.docker.image.rootfs.diff.tar",
          "size", store.size(d), "digest", d.toString()));
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("schemaVersion", 2);
    m.put("mediaType", MediaType.DOCKER_MANIFEST);
    m.put("config", Map.of("mediaType", MediaType.DOCKER_CONFIG, "size", store.size(config), "digest", config.toString()));
    m.put("layers", layers);
    byte[] bytes = Wire.write(m);
    return Descriptor.of(MediaType.DOCKER_MANIFEST, store.put(bytes), bytes.length);
  }

  @Override
  public String describe() {
    return file.toString();
  }

  /** The image names this archive holds. */
  public List<String> names() {
    return layout != null ? List.copyOf(layout.names().keySet()) : List.copyOf(dockerImages.keySet());
  }

  /** Whether the archive is a legacy docker-save (its manifests are synthesised). */
  public boolean legacyDockerSave() {
    return layout == null;
  }

  @Override
  public Descriptor resolve(ImageRef ref) throws IOException {
    if (layout != null) {
      return layout.resolve(ref);
    }
    Descriptor d = dockerImages.get(ImageRef.parse(ref.tagged() != null ? ref.tagged() : ref.toString())
        .withDigest(null).toString());
    if (d == null && ref.tag() != null) {
      d = dockerImages.get(new ImageRef(ref.registry(), ref.repository(), ref.tag(), null).toString());
    }
    if (d == null) {
      throw new ImageException(file + " has no image " + ref + " (it holds: " + String.join(", ", names()) + ")");
    }
    if (ref.digest() != null && !ref.digest().equals(d.digest())) {
      throw new ImageException(file + " holds " + ref.withDigest(null) + " as " + d.digest() + ", not the pinned "
          + ref.digest() + ": docker save rewrites manifests (layers are stored uncompressed), so a docker-saved "
          + "archive never matches a registry digest; pin the image by tag to accept it, or export it with a tool "
          + "that keeps the original blobs (skopeo oci-archive:, ctr export)");
    }
    return d;
  }

  @Override
  public void fetch(ImageRef ref, Descriptor blob, ContentStore store) throws IOException {
    if (layout != null) {
      layout.fetch(ref, blob, store);
      return;
    }
    if (!store.contains(blob.digest())) {
      throw new ImageException(file + " does not contain blob " + blob.digest() + " of " + ref);
    }
  }
}
