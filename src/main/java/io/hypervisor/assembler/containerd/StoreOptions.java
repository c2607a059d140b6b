package io.hypervisor.assembler.containerd;

import io.hypervisor.assembler.model.ContainerdLine;
import io.hypervisor.assembler.model.Platform;
import java.time.Instant;

/**
 * What the written store must match: the metadata schema version of the containerd line the image
 * runs (3 for 1.6/1.7, 4 for 2.x), whether CRI pins the sandbox image (1.7+), the sandbox image
 * reference, the node's platform (only its blobs are stored), the namespace, and the time stamped
 * on every record (SOURCE_DATE_EPOCH for reproducible output).
 */
public record StoreOptions(int metadataVersion, boolean pinSandbox, String sandboxImage, Platform platform,
    String namespace, Instant timestamp) {
  public StoreOptions {
    if (metadataVersion != 3 && metadataVersion != 4) {
      throw new IllegalArgumentException("containerd metadata version " + metadataVersion + " (3 or 4 expected)");
    }
  }

  /** Options for a containerd release line such as 1.6, 1.7, 2.0, 2.2. */
  public static StoreOptions forContainerd(String line, String sandboxImage, Platform platform, Instant timestamp) {
    ContainerdLine l = ContainerdLine.parse(line);
    return new StoreOptions(l.metadataVersion(), l.pinsSandbox(), sandboxImage, platform, "k8s.io", timestamp);
  }

  /** The record time: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
  public static Instant timestamp(java.util.Map<String, String> env) {
    String s = env.get("SOURCE_DATE_EPOCH");
    if (s != null && s.matches("\\d+")) {
      return Instant.ofEpochSecond(Long.parseLong(s));
    }
    return Instant.now();
  }
}
