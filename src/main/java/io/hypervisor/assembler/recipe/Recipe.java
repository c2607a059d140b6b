package io.hypervisor.assembler.recipe;

import io.hypervisor.assembler.model.Distro;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.OsFamily;
import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.model.Position;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One node image as the user described it, after {@code extends:}, environment and {@code --set}
 * overrides. Optional fields are null; the planner fills defaults (they depend on role and
 * Kubernetes version), so this record holds exactly what was written.
 */
public record Recipe(
    String apiVersion,
    String name,
    Base base,
    Kubernetes kubernetes,
    Containerd containerd,
    PlatformImages platform,
    Images images,
    List<PackageRef> packages,
    List<Repository> repositories,
    Map<String, String> sysctl,
    List<String> modules,
    Map<String, List<Mirror>> mirrors,
    Disk disk,
    Output output,
    Catalogue catalogue,
    Map<String, Position> positions,
    List<Path> sources) {

  public static final String API_VERSION = "assemble.hypervisor.io/v1";
  public static final String KIND = "NodeImage";
  /** Kind of a file that only holds shared settings for {@code extends:}. */
  public static final String DEFAULTS_KIND = "NodeImageDefaults";

  public Recipe {
    packages = List.copyOf(packages);
    repositories = List.copyOf(repositories);
    sysctl = Map.copyOf(sysctl);
    modules = List.copyOf(modules);
    mirrors = Map.copyOf(mirrors);
    positions = Map.copyOf(positions);
    sources = List.copyOf(sources);
  }

  /** Where the value at a YAML path came from, or null. */
  public Position position(String path) {
    return positions.get(path);
  }

  /** The distro cloud image the build starts from. */
  public record Base(String url, Path path, String sha256, Checksums checksums, Distro os,
      String arch) {}

  /** A checksum file (SHA256SUMS/SHA512SUMS) that names the base image, optionally signed. */
  public record Checksums(String url, String signatureUrl, Key key) {}

  /** An OpenPGP key by URL or file, accepted only if its fingerprint equals the pin. */
  public record Key(String url, Path path, String fingerprint) {}

  /** The Kubernetes release, node role and CNI the image is for. */
  public record Kubernetes(String version, Role role, Cni cni) {}

  /** Which Kubernetes components a node runs. */
  public enum Role {
    CONTROL_PLANE("control-plane", "cp"), WORKER("worker", "worker"), COMBINED("combined", "combined");

    private final String word;
    private final String shortName;

    Role(String word, String shortName) {
      this.word = word;
      this.shortName = shortName;
    }

    /** The recipe spelling: control-plane, worker, combined. */
    public String word() {
      return word;
    }

    /** The short form used in image tags: cp, worker, combined. */
    public String shortName() {
      return shortName;
    }

    public boolean controlPlane() {
      return this != WORKER;
    }

    public boolean worker() {
      return this != CONTROL_PLANE;
    }
  }

  /** The CNI whose images are baked in; version null means the bill of materials' default. */
  public record Cni(String name, String version) {}

  /** Where containerd comes from and which version line. */
  public record Containerd(Source source, String version) {
    /** containerd.io from Docker's repository, or the distribution's own package. */
    public enum Source { CONTAINERD_IO, DISTRO }
  }

  /** The platform's own images: cloud-controller-manager and cluster-autoscaler. */
  public record PlatformImages(ComponentImage ccm, ComponentImage autoscaler) {}

  /** A registry/image:tag triple whose parts may each be left to defaults (null). */
  public record ComponentImage(String registry, String image, String tag) {}

  /** Extra images by reference, and pre-fetched image archives. */
  public record Images(List<ImageRef> extra, List<Path> archives) {
    public Images {
      extra = List.copyOf(extra);
      archives = List.copyOf(archives);
    }
  }

  /** An extra package repository, or (by the name of a built-in one) a mirror override for it. */
  public record Repository(String name, OsFamily type, String url, String suite,
      List<String> components, Key key, String mirror) {
    public Repository {
      components = List.copyOf(components);
    }
  }

  /** A registry mirror, with containerd hosts.toml semantics. */
  public record Mirror(String url, List<String> capabilities, Path ca, boolean skipVerify) {
    public Mirror {
      capabilities = List.copyOf(capabilities);
    }
  }

  /** Virtual disk size in bytes, or null for the role's default. */
  public record Disk(Long sizeBytes) {}

  /**
   * Output file, format, compression, and whether the disk must come out byte for byte the same
   * from the same inputs (the root file system rebuilt from its tree) or only its tree (null = defaults).
   */
  public record Output(Path path, String format, String compression, Boolean reproducible, String vagrant,
      String publish) {}

  /** Fields of the platform's image catalogue; nulls take defaults from name and role. */
  public record Catalogue(String name, String purpose, String defaultInterface, Boolean cloudinit,
      Boolean isPublic, Boolean enabled, String hypervisorQemu) {}
}
