package io.hypervisor.assembler.testworld;

import io.hypervisor.assembler.plan.Versions;
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

  /**
   * The recipe of a suite image: its base and role, the Kubernetes repository at {@code aptRoot},
   * for containerd.io the Docker stand-in at {@code dockerRoot} (its Debian repository,
   * {@code linux/debian}) with the line it serves pinned, the registry as every image registry's
   * mirror, the image written to {@code output}.
   */
  public static Path recipe(Path dir, SuiteImage image, String aptRoot, String dockerRoot, String registry,
      Path output) throws IOException {
    Path f = recipe(dir, image.role(), aptRoot, registry, output, image.base());
    String text = Files.readString(f).replace("  os: debian-12\n", "  os: " + image.os() + "\n")
        .replace("name: test-world-" + image.role() + "\n", "name: test-world-" + image.label() + "\n");
    if (image.containerdIo()) {
      Path docker = Fixtures.part("docker-repo");
      text = text.replace("containerd: {source: distro}\n", "containerd: {version: \""
          + Versions.line(Files.readString(docker.resolve("containerd.io.version")).strip()) + "\"}\n")
          .replace("repositories:\n", """
              repositories:
                - name: docker
                  mirror: %s/linux/debian
                  key:
                    path: %s
                    fingerprint: %s
              """.formatted(dockerRoot, docker.resolve("linux/debian/gpg"),
              Files.readString(docker.resolve("key.fingerprint")).strip()));
    }
    if (image.vagrantBox()) {
      text = text.replace("output: {path: " + output + "}\n", "output: {path: " + output + ", vagrant: libvirt}\n");
    }
    if (image.published() && registry != null) {
      // output.publish to the build's own registry, reached through a recipe mirror allowed to push
      String host = java.net.URI.create(registry).getAuthority();
      text = text.replace(", vagrant: libvirt}\n", ", vagrant: libvirt, publish: \"" + publishedRef(image, registry)
          + "\"}\n").replace("mirrors:\n", "mirrors:\n  \"" + host + "\": [{url: \"" + registry
          + "\", capabilities: [pull, resolve, push]}]\n");
    }
    Path out = dir.resolve("test-world-" + image.label() + ".yaml");
    Files.writeString(out, text);
    if (!out.equals(f)) {
      Files.delete(f);
    }
    return out;
  }

  /** Where a suite image with {@link SuiteImage#published} publishes itself (its build's registry). */
  public static String publishedRef(SuiteImage image, String registry) {
    return java.net.URI.create(registry).getAuthority() + "/kubevirt/test-world-" + image.label() + ":1.34.2";
  }

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
