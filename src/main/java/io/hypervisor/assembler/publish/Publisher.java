package io.hypervisor.assembler.publish;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.oci.registry.RegistryPusher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Publishes a built image to a registry, in an order that never leaves a half-published tag:
 * the containerDisk's blobs (skipped when the repository has them) and its manifest by digest,
 * then each document beside the image as an OCI 1.1 artifact whose {@code subject} is that
 * manifest (listed by the referrers API where the registry has one, else in the tag-schema index
 * {@code sha256-<hex>}), and the tag last. A rerun uploads nothing the registry already holds.
 */
public final class Publisher {
  static final String INDEX = "application/vnd.oci.image.index.v1+json";
  static final String EMPTY = "application/vnd.oci.empty.v1+json";
  static final byte[] EMPTY_BYTES = "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8);

  /** A document attached to the image: the file, its media type, and the artifact type its manifest declares. */
  public record Attachment(Path file, String mediaType, String artifactType) {}

  /** The disk manifest pushed by digest (not yet tagged): what attachments point at. */
  public record Disk(ImageRef ref, Digest manifest, byte[] manifestBytes) {
    /** {@code registry/repository@sha256:…}: what the catalogue records. */
    public String byDigest() {
      return ref.registry() + "/" + ref.repository() + "@" + manifest;
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final RegistryPusher registry;
  private final EventSink events;
  private final String mountFrom;
  private int uploaded;
  private int skipped;
  private int mounted;

  /** {@code mountFrom}: a repository of the same registry that may hold the blobs already (or null). */
  public Publisher(RegistryPusher registry, EventSink events, String mountFrom) {
    this.registry = registry;
    this.events = events;
    this.mountFrom = mountFrom;
  }

  /** Pushes {@code image} as a containerDisk for {@code platform}, by digest only. */
  public Disk push(Path image, ImageRef ref, String platform, long epoch, Path work) throws IOException {
    if (ref.tag() == null) {
      throw new IllegalArgumentException("a published image needs a tag: " + ref);
    }
    ContainerDisk.Built d = ContainerDisk.build(image, platform, epoch, work);
    try {
      blob(d.layerDigest(), d.layer(), d.layerSize(), "disk/" + image.getFileName());
      blob(d.configDigest(), d.config());
      registry.putManifest(d.manifestDigest().toString(), ContainerDisk.MANIFEST, d.manifest());
    } finally {
      Files.deleteIfExists(d.layer());
    }
    return new Disk(ref, d.manifestDigest(), d.manifest());
  }

  /**
   * Attaches each file as an artifact of {@code disk}; returns how many manifests point at it. The
   * tag-schema index is read, merged and written back (nothing another publisher attached is lost).
   */
  public int attach(Disk disk, List<Attachment> attachments, long epoch) throws IOException {
    blob(Digest.sha256(EMPTY_BYTES), EMPTY_BYTES);
    List<ObjectNode> descriptors = new ArrayList<>();
    for (Attachment a : attachments) {
      byte[] bytes = Files.readAllBytes(a.file());
      Digest d = Digest.sha256(bytes);
      blob(d, bytes);
      ObjectNode m = JSON.createObjectNode();
      m.put("schemaVersion", 2);
      m.put("mediaType", ContainerDisk.MANIFEST);
      m.put("artifactType", a.artifactType());
      ObjectNode cfg = m.putObject("config");
      cfg.put("mediaType", EMPTY).put("digest", Digest.sha256(EMPTY_BYTES).toString()).put("size", 2)
          .put("data", "e30=");
      ObjectNode layer = m.putArray("layers").addObject();
      layer.put("mediaType", a.mediaType()).put("digest", d.toString()).put("size", bytes.length);
      layer.putObject("annotations").put("org.opencontainers.image.title", a.file().getFileName().toString());
      m.putObject("subject").put("mediaType", ContainerDisk.MANIFEST).put("digest", disk.manifest().toString())
          .put("size", disk.manifestBytes().length);
      m.putObject("annotations").put("org.opencontainers.image.created", Instant.ofEpochSecond(epoch).toString());
      byte[] mb = JSON.writeValueAsBytes(m);
      Digest md = Digest.sha256(mb);
      registry.putManifest(md.toString(), ContainerDisk.MANIFEST, mb);
      ObjectNode desc = JSON.createObjectNode();
      desc.put("mediaType", ContainerDisk.MANIFEST).put("digest", md.toString()).put("size", mb.length);
      desc.put("artifactType", a.artifactType());
      desc.putObject("annotations").put("org.opencontainers.image.created", Instant.ofEpochSecond(epoch).toString())
          .put("org.opencontainers.image.title", a.file().getFileName().toString());
      descriptors.add(desc);
    }
    if (registry.referrers(disk.manifest()) != null) {
      events.debug("the registry lists referrers itself (OCI 1.1 referrers API)");
      return descriptors.size();
    }
    // Tag-schema fallback: one index per subject under sha256-<hex>, read-modify-write.
    String tag = disk.manifest().algorithm() + "-" + disk.manifest().encoded();
    Map<String, JsonNode> merged = new LinkedHashMap<>();
    byte[] old = registry.manifest(tag, INDEX);
    if (old != null) {
      JsonNode idx = JSON.readTree(old);
      if (idx.has("manifests")) {
        idx.get("manifests").forEach(e -> merged.put(e.path("digest").asText(), e));
      }
    }
    descriptors.forEach(d -> merged.put(d.get("digest").asText(), d));
    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    index.put("mediaType", INDEX);
    ArrayNode list = index.putArray("manifests");
    merged.values().stream().sorted(java.util.Comparator.comparing(n -> n.path("digest").asText())).forEach(list::add);
    registry.putManifest(tag, INDEX, JSON.writeValueAsBytes(index));
    return merged.size();
  }

  /** Puts the disk manifest under its tag: the last step, so the tag never names half an upload. */
  public void tag(Disk disk) throws IOException {
    registry.putManifest(disk.ref().tag(), ContainerDisk.MANIFEST, disk.manifestBytes());
  }

  /** Blobs uploaded and found already there so far. */
  public int uploaded() {
    return uploaded;
  }

  public int skipped() {
    return skipped;
  }

  /** Blobs mounted from {@code mountFrom} instead of uploaded. */
  public int mounted() {
    return mounted;
  }

  private void blob(Digest d, Path file, long size, String label) throws IOException {
    if (registry.exists(d)) {
      skipped++;
      return;
    }
    if (mountFrom != null) {
      try {
        if (registry.mount(d, mountFrom)) {
          mounted++;
          return;
        }
      } catch (IOException e) { // not allowed to read the other repository: upload instead
        events.debug("mounting " + d + " from " + mountFrom + " failed (" + e.getMessage() + "); uploading it");
      }
    }
    registry.upload(d, file, size, label);
    uploaded++;
  }

  private void blob(Digest d, byte[] bytes) throws IOException {
    if (registry.exists(d)) {
      skipped++;
      return;
    }
    registry.upload(d, bytes);
    uploaded++;
  }
}
