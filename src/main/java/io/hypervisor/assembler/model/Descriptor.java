package io.hypervisor.assembler.model;

import java.util.Map;
import java.util.TreeMap;

/** A content descriptor: media type, digest and size of a blob, plus annotations and platform. */
public record Descriptor(String mediaType, Digest digest, long size, Map<String, String> annotations,
    Platform platform) {
  public Descriptor {
    if (mediaType == null || mediaType.isBlank()) {
      throw new IllegalArgumentException("a descriptor needs a media type");
    }
    if (digest == null) {
      throw new IllegalArgumentException("a descriptor needs a digest");
    }
    if (size < 0) {
      throw new IllegalArgumentException("negative size " + size + " for " + digest);
    }
    annotations = annotations == null ? Map.of() : java.util.Collections.unmodifiableMap(
        new TreeMap<>(annotations));
  }

  public static Descriptor of(String mediaType, Digest digest, long size) {
    return new Descriptor(mediaType, digest, size, Map.of(), null);
  }

  public Descriptor withAnnotations(Map<String, String> a) {
    return new Descriptor(mediaType, digest, size, a, platform);
  }
}
