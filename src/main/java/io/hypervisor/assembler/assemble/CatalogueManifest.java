package io.hypervisor.assembler.assemble;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.Plan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The catalogue entry written beside the image: the registration fields (name, URL placeholder,
 * default interface, purpose, cloudinit, public, enabled), the immutable tag, what the image is
 * (Kubernetes version, role, CNI, format, sizes, sha256), its full bill of materials (every
 * package with version and sha256, every image with its digest), the build's epoch, what a
 * rebuild reproduces (bytes or tree, and the tree digest), and the files written beside it (tree
 * manifest, SBOMs, provenance, checksums and their signature).
 */
public record CatalogueManifest(int formatVersion, Registration registration, String tag, Kubernetes kubernetes,
    Artifact image, List<Lock.Package> packages, List<Lock.Image> images, String base, String builtWith,
    long sourceDateEpoch, Reproducible reproducible, java.util.Map<String, String> files, Artifact vagrantBox,
    String published) {

  /**
   * What a rebuild from the same inputs gives: "bytes" (the same qcow2) or "tree" (the same tree
   * manifest, with the reason bytes were not possible), and the tree digest (sha256 of the manifest).
   */
  public record Reproducible(String identity, String treeDigest, String reason) {}

  /** What the catalogue's registration form asks for. */
  public record Registration(String name, String url, String defaultInterface, String purpose, boolean cloudinit,
      boolean isPublic, boolean enabled) {}

  /** The Kubernetes the image carries. */
  public record Kubernetes(String version, String role, String cni, String cniVersion, String containerd) {}

  /** The image file. */
  public record Artifact(String file, String format, String compression, long virtualSize, long size, String sha256) {}

  /** The assembler's version, as builds name it. */
  public static final String VERSION = "0.1.0";

  /** Where the platform fills in the download URL once it has uploaded the image. */
  public static final String URL_PLACEHOLDER = "${IMAGE_URL}";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .setSerializationInclusion(JsonInclude.Include.NON_NULL);

  public static CatalogueManifest of(Plan plan, Lock lock, Path image, long virtualSize, long size, String sha256,
      String containerdVersion, java.time.Instant epoch, Reproducible reproducible, java.util.Map<String, String> files) {
    Plan.Catalogue c = plan.catalogue();
    return new CatalogueManifest(1,
        new Registration(c.name(), URL_PLACEHOLDER, c.defaultInterface(), c.purpose(), c.cloudinit(), c.isPublic(),
            c.enabled()),
        c.tag(),
        new Kubernetes(plan.kubernetes().version(), plan.kubernetes().role(), plan.kubernetes().cni(),
            plan.kubernetes().cniVersion(), containerdVersion),
        new Artifact(image.getFileName().toString(), plan.output().format(), plan.output().compression(), virtualSize,
            size, sha256),
        lock.packages(), lock.images(), plan.base().url() != null ? plan.base().url() : plan.base().path(),
        "assemble " + VERSION, epoch.getEpochSecond(), reproducible, files.isEmpty() ? null : new java.util.TreeMap<>(files),
        null, null);
  }

  /** The same with the Vagrant box written beside the image. */
  public CatalogueManifest withVagrantBox(Artifact box) {
    return new CatalogueManifest(formatVersion, registration, tag, kubernetes, image, packages, images, base, builtWith,
        sourceDateEpoch, reproducible, files, box, published);
  }

  /**
   * The same once the image is in a registry: {@code ref} (by digest) replaces the URL
   * placeholder, and is kept as {@code published}.
   */
  public CatalogueManifest withPublished(String ref) {
    Registration r = new Registration(registration.name(), ref, registration.defaultInterface(), registration.purpose(),
        registration.cloudinit(), registration.isPublic(), registration.enabled());
    return new CatalogueManifest(formatVersion, r, tag, kubernetes, image, packages, images, base, builtWith,
        sourceDateEpoch, reproducible, files, vagrantBox, ref);
  }

  /**
   * A written manifest's JSON with the published reference in place of the URL placeholder and
   * as {@code published}, everything else as it was.
   */
  public static byte[] published(byte[] json, String ref) throws IOException {
    com.fasterxml.jackson.databind.node.ObjectNode m = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(json);
    if (!(m.get("registration") instanceof com.fasterxml.jackson.databind.node.ObjectNode r)) {
      throw new IOException("the catalogue manifest has no registration");
    }
    r.put("url", ref);
    m.put("published", ref);
    return (JSON.writeValueAsString(m) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  public String json() throws IOException {
    return JSON.writeValueAsString(this) + "\n";
  }

  /** Writes atomically beside the image. */
  public void write(Path file) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.writeString(tmp, json());
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
