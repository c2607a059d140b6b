package io.hypervisor.assembler.plan;

import io.hypervisor.assembler.model.Problem;
import java.util.List;
import java.util.Map;

/**
 * The fully described build: everything later phases need, derived from the recipe and the bill
 * of materials without network access. Package versions are patterns here; the lock pins them.
 * Deterministic: the same recipe gives the same plan, byte for byte, in JSON and as text.
 */
public record Plan(
    int formatVersion,
    String name,
    List<String> recipeFiles,
    Base base,
    Kubernetes kubernetes,
    Containerd containerd,
    List<Repository> repositories,
    List<PlannedPackage> packages,
    List<PlannedImage> images,
    Map<String, List<Mirror>> mirrors,
    List<PlannedFile> files,
    Units units,
    List<String> steps,
    long diskBytes,
    Output output,
    Catalogue catalogue,
    List<String> imageArchives,
    List<Problem> warnings) {

  public static final int FORMAT_VERSION = 1;

  public Plan {
    recipeFiles = List.copyOf(recipeFiles);
    repositories = List.copyOf(repositories);
    packages = List.copyOf(packages);
    images = List.copyOf(images);
    mirrors = Map.copyOf(new java.util.TreeMap<>(mirrors));
    files = List.copyOf(files);
    steps = List.copyOf(steps);
    imageArchives = imageArchives == null ? List.of() : List.copyOf(imageArchives);
    warnings = List.copyOf(warnings);
  }

  /** The same plan with more pre-fetched image archives (e.g. the files of --images-dir). */
  public Plan withImageArchives(List<String> more) {
    List<String> all = new java.util.ArrayList<>(imageArchives);
    more.stream().filter(m -> !all.contains(m)).forEach(all::add);
    return new Plan(formatVersion, name, recipeFiles, base, kubernetes, containerd, repositories, packages, images,
        mirrors, files, units, steps, diskBytes, output, catalogue, all, warnings);
  }

  /** The same plan for another containerd (the one the lock installs) and its files. */
  public Plan withContainerd(Containerd c, List<PlannedFile> newFiles) {
    return new Plan(formatVersion, name, recipeFiles, base, kubernetes, c, repositories, packages, images,
        mirrors, newFiles, units, steps, diskBytes, output, catalogue, imageArchives, warnings);
  }

  /** The base cloud image and what it must turn out to be. */
  public record Base(String url, String path, String sha256, String checksumsUrl,
      String checksumsSignatureUrl, String checksumsKeyFingerprint, String checksumsKeyUrl,
      String checksumsKeyPath, String distro, String family, String arch, String platform) {}

  /** Kubernetes release, role, CNI, and where the bill of materials data came from. */
  public record Kubernetes(String version, String minor, String role, String cni, String cniVersion,
      String bomPatch) {}

  /** containerd's source and line, and the formats its version implies. */
  public record Containerd(String source, String line, String release, int configVersion,
      int metadataVersion, String sandboxImage) {}

  /** A package repository the build resolves from and (except the base's own) writes into the image. */
  public record Repository(String name, String family, String url, String suite,
      List<String> components, String architecture, String keyUrl, String keyPath,
      String keyFingerprint, String keyringPath, String definitionPath, List<String> exclude) {
    public Repository {
      components = List.copyOf(components);
      exclude = List.copyOf(exclude);
    }
  }

  /** A package to install, with a version pattern ({@code 1.34.2-*}) or none, and why. */
  public record PlannedPackage(String name, String version, String repository, String reason) {}

  /** A container image to seed, by reference, with the component it serves. */
  public record PlannedImage(String ref, String component, boolean sandbox) {}

  /** A registry mirror as containerd's hosts.toml describes it. */
  public record Mirror(String url, List<String> capabilities, String ca, boolean skipVerify) {
    public Mirror {
      capabilities = List.copyOf(capabilities);
    }
  }

  /**
   * A file the build writes into the image: either its exact content, or (for keyrings and CA
   * files) where the content comes from.
   */
  public record PlannedFile(String path, String mode, String content, String source) {}

  /** systemd units to enable, disable and mask. */
  public record Units(List<String> enable, List<String> disable, List<String> mask) {
    public Units {
      enable = List.copyOf(enable);
      disable = List.copyOf(disable);
      mask = List.copyOf(mask);
    }
  }

  /** The output image file; {@code reproducible}: the same inputs give the same bytes, not only the same tree. */
  public record Output(String path, String format, String compression, boolean reproducible, String vagrant,
      String publish) {}

  /** The catalogue registration fields. */
  public record Catalogue(String name, String tag, String purpose, String defaultInterface,
      boolean cloudinit, boolean isPublic, boolean enabled) {}
}
