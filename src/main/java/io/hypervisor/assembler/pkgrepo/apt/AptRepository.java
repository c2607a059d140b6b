package io.hypervisor.assembler.pkgrepo.apt;

import java.util.List;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;

/**
 * One apt repository to resolve from: a URI and suite (a flat repository has a suite ending in
 * "/" and no components), the components and architectures to read, the keys trusted to sign its
 * Release, and where it was configured (the image's sources, or the recipe).
 */
public record AptRepository(String name, String uri, String suite, List<String> components,
    List<String> architectures, PGPPublicKeyRingCollection keys, String origin) {

  public AptRepository {
    uri = uri.endsWith("/") ? uri : uri + "/";
    components = List.copyOf(components);
    architectures = List.copyOf(architectures);
  }

  public boolean flat() {
    return suite.endsWith("/");
  }

  /** Where InRelease/Release live. */
  public String releaseBase() {
    return flat() ? uri + (suite.equals("/") ? "" : suite.replaceFirst("^\\./", "")) : uri + "dists/" + suite + "/";
  }

  /** Where a package's Filename is relative to. */
  public String packageBase() {
    return flat() ? releaseBase() : uri;
  }

  /** A short description for messages: "kubernetes (https://…/deb/ /)". */
  public String describe() {
    return name + " (" + uri + " " + suite + (components.isEmpty() ? "" : " " + String.join(" ", components)) + ")";
  }

  /** The resolver's view of where a package came from. */
  public io.hypervisor.assembler.pkgrepo.Source source() {
    return new io.hypervisor.assembler.pkgrepo.Source(name, origin, origin.startsWith("image"));
  }

  /** The same repository fetched from another base URI (a site mirror). */
  public AptRepository withUri(String other) {
    return new AptRepository(name, other, suite, components, architectures, keys, origin);
  }
}
