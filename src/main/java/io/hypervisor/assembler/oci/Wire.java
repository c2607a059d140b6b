package io.hypervisor.assembler.oci;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.model.Platform;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The JSON shapes of OCI and Docker schema 2 objects, as they are on the wire, and their mapping
 * to model descriptors. Unknown fields are ignored (the specs allow extension); what the
 * assembler needs is validated when converted.
 */
public final class Wire {
  static final ObjectMapper JSON = new ObjectMapper()
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
      .setSerializationInclusion(JsonInclude.Include.NON_NULL);

  private Wire() {}

  /** A descriptor as JSON. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record DescriptorJson(String mediaType, String digest, long size, Map<String, String> annotations,
      PlatformJson platform, List<String> urls, String artifactType) {
    public Descriptor toModel() {
      return new Descriptor(mediaType, Digest.parse(digest), size, annotations,
          platform == null ? null : platform.toModel());
    }

    public static DescriptorJson of(Descriptor d) {
      return new DescriptorJson(d.mediaType(), d.digest().toString(), d.size(),
          d.annotations().isEmpty() ? null : d.annotations(),
          d.platform() == null ? null : PlatformJson.of(d.platform()), null, null);
    }
  }

  /** A platform as JSON. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record PlatformJson(String architecture, String os, String variant,
      @JsonProperty("os.version") String osVersion) {
    public Platform toModel() {
      return new Platform(os == null ? "unknown" : os, architecture == null ? "unknown" : architecture, variant);
    }

    public static PlatformJson of(Platform p) {
      return new PlatformJson(p.architecture(), p.os(), p.variant().isEmpty() ? null : p.variant(), null);
    }
  }

  /** An OCI image index or Docker manifest list. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record IndexJson(int schemaVersion, String mediaType, List<DescriptorJson> manifests,
      Map<String, String> annotations) {}

  /** An OCI image manifest or Docker schema 2 manifest. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record ManifestJson(int schemaVersion, String mediaType, DescriptorJson config,
      List<DescriptorJson> layers, DescriptorJson subject, Map<String, String> annotations) {}

  /** The parts of an image config the assembler reads. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record ConfigJson(String architecture, String os, String variant, RootFs rootfs) {
    /** The config's layer DiffIDs. */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record RootFs(String type, @JsonProperty("diff_ids") List<String> diffIds) {}
  }

  /** One entry of a docker-save {@code manifest.json}. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record DockerSaveEntry(@JsonProperty("Config") String config, @JsonProperty("RepoTags") List<String> repoTags,
      @JsonProperty("Layers") List<String> layers) {
    public DockerSaveEntry {
      repoTags = repoTags == null ? List.of() : repoTags;
      layers = layers == null ? List.of() : layers;
    }
  }

  /** An OCI layout's {@code oci-layout} file. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record LayoutFile(String imageLayoutVersion) {}

  public static List<DockerSaveEntry> dockerSaveManifest(byte[] json) throws IOException {
    return List.of(JSON.readValue(json, DockerSaveEntry[].class));
  }

  public static LayoutFile layoutFile(byte[] json) throws IOException {
    return JSON.readValue(json, LayoutFile.class);
  }

  /** The media type written in a manifest's JSON, or guessed from its shape; null if unknowable. */
  public static String sniffMediaType(byte[] json) throws IOException {
    JsonNode n = JSON.readTree(json);
    if (n == null || !n.isObject()) {
      throw new IOException("not a JSON object");
    }
    if (n.hasNonNull("mediaType")) {
      return n.get("mediaType").asText();
    }
    if (n.path("schemaVersion").asInt() == 1) {
      return MediaType.DOCKER_SCHEMA1;
    }
    if (n.has("manifests")) {
      return MediaType.OCI_INDEX;
    }
    if (n.has("layers") || n.has("config")) {
      return MediaType.OCI_MANIFEST;
    }
    return null;
  }

  public static IndexJson index(byte[] json) throws IOException {
    return JSON.readValue(json, IndexJson.class);
  }

  public static ManifestJson manifest(byte[] json) throws IOException {
    return JSON.readValue(json, ManifestJson.class);
  }

  public static ConfigJson config(byte[] json) throws IOException {
    return JSON.readValue(json, ConfigJson.class);
  }

  public static byte[] write(Object o) throws IOException {
    return JSON.writeValueAsBytes(o);
  }

  public static ObjectMapper mapper() {
    return JSON;
  }
}
