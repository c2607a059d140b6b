package io.hypervisor.assembler.oci;

import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Platform;
import java.util.List;
import java.util.Objects;

/**
 * Choosing an index child for a platform as containerd does: platforms compared after
 * normalisation (arm64/v8 is arm64, x86_64 is amd64), the first match wins (image-index.md),
 * BuildKit attestation entries are never chosen, a child without a platform counts as
 * linux/amd64 (go-containerregistry's rule), and an amd64/vN request also accepts lower levels.
 */
public final class Platforms {
  private Platforms() {}

  /** Whether an index entry is an attestation (SBOM/provenance), not a runnable image. */
  public static boolean isAttestation(Descriptor d) {
    if ("attestation-manifest".equals(d.annotations().get("vnd.docker.reference.type"))) {
      return true;
    }
    Platform p = d.platform();
    return p != null && p.os().equals("unknown") && p.architecture().equals("unknown");
  }

  static Platform platformOf(Descriptor d) {
    return d.platform() != null ? d.platform() : Platform.LINUX_AMD64;
  }

  public static boolean matches(Platform have, Platform want) {
    if (!have.os().equals(want.os()) || !have.architecture().equals(want.architecture())) {
      return false;
    }
    if (Objects.equals(have.variant(), want.variant())) {
      return true;
    }
    if (have.architecture().equals("amd64")) {
      return level(have.variant()) <= level(want.variant());
    }
    return false;
  }

  private static int level(String variant) {
    String digits = variant.replaceAll("\\D", "0").replaceFirst("^0+(?=\\d)", "");
    return variant.isEmpty() ? 1 : digits.length() > 9 ? Integer.MAX_VALUE : Integer.parseInt(digits);
  }

  /**
   * The first child of an index for {@code want}; {@link ImageException} naming the available
   * platforms when there is none.
   */
  public static Descriptor select(List<Descriptor> children, Platform want, String image) throws ImageException {
    for (Descriptor d : children) {
      if (!isAttestation(d) && matches(platformOf(d), want)) {
        return d;
      }
    }
    List<String> available = children.stream().filter(d -> !isAttestation(d))
        .map(d -> platformOf(d).toString()).distinct().toList();
    throw new ImageException(image + " has no image for platform " + want + " (available: "
        + (available.isEmpty() ? "none" : String.join(", ", available)) + ")");
  }
}
