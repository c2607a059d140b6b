package io.hypervisor.assembler.testworld;

import java.nio.file.Path;

/**
 * The node images the suite builds (base × containerd line × role), each for a reason written
 * beside it. Every test that reads a built image names one of these (see {@link SuiteImages});
 * a new image earns its place only by proving a path none of these does, because each costs a
 * TCG build of minutes.
 */
public enum SuiteImage {
  /**
   * The path every reference recipe takes: Docker's containerd.io (2.x, from the Docker stand-in)
   * on Debian 12, worker role. Read by the CLI build test, the steps read-back, the boot test, and
   * the provenance oracles: built signed ({@link ReleaseKeys}), as a release is.
   */
  WORKER("worker", "debian-12", "base-image", "debian-12-generic.qcow2", true, false),
  /**
   * The other role and the distribution's own containerd: Debian 12's containerd 1.6 (config
   * version 2, metadata schema 3, no pinned label), control plane (its own image set), built from
   * the base variant with a swap file in fstab so the swap step has work.
   */
  CONTROL_PLANE("control-plane", "debian-12", "base-image", "debian-12-generic-swap.qcow2", false, false),
  /**
   * A Debian 13 base (systemd 257, cloud-init 25, netplan) with containerd.io 2.x from the Docker
   * stand-in's trixie suite, as {@code demo/run worker --base debian-13} builds it; built the way an
   * air-gapped site builds (a signed bundle with the downloaded base, a fresh cache, no network
   * namespace, a first attempt SIGKILLed in the package step), so the air-gap proof costs no build
   * of its own.
   */
  WORKER_DEBIAN_13("worker", "debian-13", "base-image-debian-13", "debian-13-generic.qcow2", true, true);

  private final String role;
  private final String os;
  private final String basePart;
  private final String baseFile;
  private final boolean containerdIo;
  private final boolean airGapped;

  SuiteImage(String role, String os, String basePart, String baseFile, boolean containerdIo, boolean airGapped) {
    this.role = role;
    this.os = os;
    this.basePart = basePart;
    this.baseFile = baseFile;
    this.containerdIo = containerdIo;
    this.airGapped = airGapped;
  }

  /** Built with {@code --sign-key} and {@code --provenance-key}, so its checksums and provenance are signed. */
  public boolean signed() {
    return this == WORKER;
  }

  /**
   * Also written to a bundle right after its build (the servers still up), so a test can rebuild
   * it elsewhere and compare bytes ({@link SuiteImages#rebuild}): the one extra build the
   * reproducibility proof needs.
   */
  public boolean reproduced() {
    return this == WORKER;
  }

  /** Also writes a Vagrant box for libvirt beside the image ({@code output.vagrant: libvirt}). */
  public boolean vagrantBox() {
    return this == CONTROL_PLANE;
  }

  /**
   * Also publishes itself ({@code output.publish}) to its build's registry as a containerDisk,
   * through a recipe mirror allowed to push: the in-build path of {@code assemble publish}.
   */
  public boolean published() {
    return this == CONTROL_PLANE;
  }

  /** Built from a bundle with no network (see {@link AirGappedBuild}) rather than connected. */
  public boolean airGapped() {
    return airGapped;
  }

  public String role() {
    return role;
  }

  /** The recipe's base.os. */
  public String os() {
    return os;
  }

  /** The base image file (from the fixture cache). */
  public Path base() {
    return Fixtures.part(basePart).resolve(baseFile);
  }

  /** Docker's containerd.io from the Docker stand-in (else the distribution's containerd). */
  public boolean containerdIo() {
    return containerdIo;
  }

  /** The Debian suite of the base, for the Docker stand-in's apt repository. */
  public String suite() {
    return os.equals("debian-13") ? "trixie" : "bookworm";
  }

  /** A file-system friendly name: worker, control-plane, worker-debian-13. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
