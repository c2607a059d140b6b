package io.hypervisor.assembler.plan;

import io.hypervisor.assembler.model.ContainerdLine;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The containerd a node image really gets: the package the lock installs (or the image already
 * has), its upstream release and line. The recipe only wishes for a line; this decides the config
 * version written and the metadata schema seeded.
 */
public record ContainerdRelease(String packageName, String packageVersion, String upstream, ContainerdLine line) {
  /** The package names that carry containerd (Docker's, then the distributions'). */
  public static final List<String> PACKAGES = List.of("containerd.io", "containerd");

  /** From a package's name and version; empty when the version does not start with a numeric major.minor. */
  public static Optional<ContainerdRelease> of(String packageName, String packageVersion) {
    return ContainerdLine.ofVersion(packageVersion).map(l -> new ContainerdRelease(packageName, packageVersion,
        ContainerdLine.upstream(packageVersion).orElseThrow(), l));
  }

  /** The containerd package a lock installs, if any. */
  public static Optional<ContainerdRelease> of(Lock lock) {
    for (String name : PACKAGES) {
      for (Lock.Package p : lock.packages()) {
        if (p.name().equals(name)) {
          return of(p.name(), p.version());
        }
      }
    }
    return Optional.empty();
  }

  /** The whole /etc/containerd/config.toml a node gets for this line (CRI on, systemd cgroups, pinned sandbox). */
  public static String config(ContainerdLine line, String sandboxImage) {
    return NodeFiles.containerdConfig(line.configVersion(), sandboxImage);
  }

  /**
   * The plan as this release needs it: its line, config and metadata versions, and the
   * config.toml in the version it reads; the same plan when nothing changes.
   */
  public Plan apply(Plan plan) {
    Plan.Containerd c = plan.containerd();
    if (c == null || (c.line().equals(line.toString()) && c.configVersion() == line.configVersion()
        && c.metadataVersion() == line.metadataVersion() && upstream.equals(c.release()))) {
      return plan;
    }
    Plan.Containerd installed = new Plan.Containerd(c.source(), line.toString(), upstream, line.configVersion(),
        line.metadataVersion(), c.sandboxImage());
    List<Plan.PlannedFile> files = new ArrayList<>();
    for (Plan.PlannedFile f : plan.files()) {
      files.add(f.path().equals(NodeFiles.CONTAINERD_CONFIG)
          ? new Plan.PlannedFile(f.path(), f.mode(), config(line, c.sandboxImage()), f.source())
          : f);
    }
    return plan.withContainerd(installed, files);
  }
}
