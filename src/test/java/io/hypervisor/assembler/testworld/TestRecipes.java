package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Recipes that build from the test world: its Debian 12 base image, its signed Kubernetes apt
 * repository (served by the caller on loopback, re-signed with the test world key, as a site
 * mirror would be) and its registry as the mirror of registry.k8s.io, quay.io and ghcr.io.
 */
public final class TestRecipes {
  private TestRecipes() {}

  /** A worker recipe; {@code aptRoot} serves fixtures' repos/apt, {@code registry} may be null (no images mirror). */
  public static Path worker(Path dir, String aptRoot, String registry) throws IOException {
    return recipe(dir, "worker", aptRoot, registry, null, null);
  }

  /**
   * A recipe for {@code role} (worker, control-plane, combined); {@code output} is where the image
   * goes (null: the planner's default), {@code base} the base image (null: the plain one).
   */
  public static Path recipe(Path dir, String role, String aptRoot, String registry, Path output, Path base)
      throws IOException {
    Path repos = Fixtures.part("repos");
    StringBuilder b = new StringBuilder("""
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        name: test-world-%s
        base:
          path: %s
          os: debian-12
          arch: amd64
        kubernetes: {version: 1.34.2, role: %s, cni: cilium}
        disk: {size: 8G}
        containerd: {source: distro}
        repositories:
          - name: kubernetes
            mirror: %s/core:/stable:/v1.34/deb/
            key:
              path: %s
              fingerprint: %s
        """.formatted(role, base != null ? base : Fixtures.part("base-image").resolve("debian-12-generic.qcow2"), role, aptRoot,
        repos.resolve("apt/core:/stable:/v1.34/deb/Release.key"), Gpg.worldFingerprint()));
    if (registry != null) {
      b.append("mirrors:\n");
      for (String host : new String[] {"registry.k8s.io", "quay.io", "ghcr.io", "docker.io"}) {
        b.append("  ").append(host).append(": [").append(registry).append("]\n");
      }
    }
    if (output != null) {
      b.append("output: {path: ").append(output).append("}\n");
    }
    Files.createDirectories(dir);
    Path f = dir.resolve("test-world-" + role + ".yaml");
    Files.writeString(f, b.toString());
    return f;
  }
}
