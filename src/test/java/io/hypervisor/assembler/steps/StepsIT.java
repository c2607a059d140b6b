package io.hypervisor.assembler.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.testworld.SuiteImage;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.UsesImages;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Gpg;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Each step's effect on the real images the suite built (the Debian 12 worker with containerd.io
 * 2.x and the control plane with Debian's containerd 1.6), read back through the suite's shared
 * read-only appliance per image and, where the image has one, its own tool as the oracle
 * (dpkg-query, apt-mark, systemctl, containerd config dump).
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@UsesImages({SuiteImage.WORKER, SuiteImage.CONTROL_PLANE})
class StepsIT {
  GuestfsSession worker;
  GuestfsSession controlPlane;

  @BeforeAll
  void open() throws IOException {
    worker = SuiteImages.readOnly(SuiteImage.WORKER);
    controlPlane = SuiteImages.readOnly(SuiteImage.CONTROL_PLANE);
  }

  private static String text(GuestfsSession image, String path) throws IOException {
    byte[] b = image.read(path);
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  @Test
  void repositories() throws IOException {
    String sources = text(worker, "/etc/apt/sources.list.d/kubernetes.sources");
    assertTrue(sources != null && sources.contains("Signed-By: /etc/apt/keyrings/kubernetes-apt-keyring.gpg"), sources);
    byte[] keyring = worker.read("/etc/apt/keyrings/kubernetes-apt-keyring.gpg");
    // dearmored, as the upstream instructions write it: a binary public-key packet, not ASCII armor
    assertEquals(0x99, keyring[0] & 0xff);
    java.nio.file.Path copy = java.nio.file.Files.createTempFile("keyring", ".gpg");
    try {
      java.nio.file.Files.write(copy, keyring);
      String listed = Tools.run(List.of("gpg", "--show-keys", "--with-colons", copy.toString())).ok().out();
      assertTrue(listed.contains(Gpg.worldFingerprint()), listed);
    } finally {
      java.nio.file.Files.delete(copy);
    }
  }

  @Test
  void packages() throws IOException {
    String versions = worker.command(List.of("dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\\n",
        "kubelet", "kubeadm", "kubectl", "containerd.io", "qemu-guest-agent", "cri-tools", "kubernetes-cni"));
    for (String line : versions.strip().split("\n")) {
      assertTrue(line.endsWith(" ok installed"), line);
    }
    assertTrue(versions.contains("kubelet 1.34.2-1.1 "), versions);
    assertTrue(versions.contains("containerd.io 2."), versions);
    // containerd.io provides and replaces containerd and runc: Debian's own are not installed
    String distro = worker.command(List.of("sh", "-c", "dpkg-query -W -f '${Package} ${Status}\\n' containerd runc "
        + "2>&1 || true"));
    assertTrue(distro.lines().noneMatch(l -> l.endsWith(" ok installed")), distro);
    String cp = controlPlane.command(List.of("dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "containerd"));
    assertTrue(cp.startsWith("containerd 1.6.20"), cp);
    assertEquals(Set.of("kubeadm", "kubectl", "kubelet"),
        new TreeSet<>(List.of(worker.command(List.of("apt-mark", "showhold")).strip().split("\n"))));
    assertEquals("", worker.command(List.of("dpkg", "--audit")).strip(), "no half-installed package");
    assertFalse(worker.exists("/usr/sbin/policy-rc.d"), "the build's policy-rc.d is gone");
    assertFalse(worker.exists("/var/cache/assemble"), "the uploaded .debs are gone");
    assertEquals(List.of(), worker.glob("/var/cache/apt/archives/*.deb"));
  }

  @Test
  void kernel() throws IOException {
    assertEquals(List.of("overlay", "br_netfilter"), text(worker, "/etc/modules-load.d/k8s.conf").lines()
        .filter(l -> !l.startsWith("#")).toList());
    String sysctl = text(worker, "/etc/sysctl.d/99-kubernetes.conf");
    for (String s : List.of("net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-ip6tables = 1",
        "net.ipv4.ip_forward = 1", "fs.inotify.max_user_instances", "fs.inotify.max_user_watches")) {
      assertTrue(sysctl.contains(s), s + " in " + sysctl);
    }
  }

  @Test
  void swap() throws IOException {
    // The control plane's base had a swap file in fstab: the line and the file are gone.
    for (GuestfsSession image : List.of(worker, controlPlane)) {
      String fstab = text(image, "/etc/fstab");
      assertTrue(fstab.lines().noneMatch(l -> !l.startsWith("#") && l.matches(".*\\sswap\\s.*")), fstab);
      assertEquals("/dev/null", image.readlink("/etc/systemd/system/swap.target"));
    }
    assertFalse(controlPlane.exists("/swapfile"), "the base's swap file is deleted");
  }

  @Test
  void services() throws IOException {
    for (GuestfsSession image : List.of(worker, controlPlane)) {
      assertEquals(Units.State.ENABLED, Units.state(image, "containerd.service"));
      assertEquals(Units.State.DISABLED, Units.state(image, "kubelet.service"));
      assertEquals(Units.State.STATIC, Units.state(image, "qemu-guest-agent.service"));
      // systemctl itself, run in the image, agrees with the file-level view
      assertEquals("disabled", image.sh("systemctl is-enabled kubelet.service || true").strip());
      assertEquals("enabled", image.sh("systemctl is-enabled containerd.service || true").strip());
    }
  }

  @Test
  void containerdConfig() throws IOException {
    // Docker's containerd.io ships config.toml with CRI disabled: ours replaced it, in version 3 for 2.x.
    String config = text(worker, "/etc/containerd/config.toml");
    assertTrue(config.contains("version = 3") && config.contains("SystemdCgroup = true"), config);
    assertFalse(config.contains("disabled_plugins = [\"cri\"]"), config);
    // containerd parses its own configuration: the merged view has CRI on with our values.
    String dump = worker.command(List.of("containerd", "--config", "/etc/containerd/config.toml", "config", "dump"))
        .replace('\'', '"');
    assertTrue(dump.contains("SystemdCgroup = true"), dump);
    assertTrue(dump.contains("sandbox = \"registry.k8s.io/pause:3.10.1\""), dump);
    assertTrue(dump.contains("config_path = \"/etc/containerd/certs.d\""), dump);
    assertTrue(dump.contains("disabled_plugins = []"), dump);
    // the control plane's containerd 1.6 reads version 2
    String cpDump = controlPlane.command(List.of("containerd", "--config", "/etc/containerd/config.toml", "config",
        "dump"));
    assertTrue(cpDump.contains("version = 2") && cpDump.contains("SystemdCgroup = true"), cpDump);
    assertTrue(cpDump.contains("sandbox_image = \"registry.k8s.io/pause:3.10.1\""), cpDump);
    assertTrue(cpDump.contains("config_path = \"/etc/containerd/certs.d\""), cpDump);
    assertFalse(cpDump.contains("disabled_plugins = [\"cri\"]"), cpDump);
    String hosts = text(worker, "/etc/containerd/certs.d/registry.k8s.io/hosts.toml");
    assertTrue(hosts != null && hosts.contains("server = \"https://registry.k8s.io\""), hosts);
    assertTrue(text(worker, "/etc/crictl.yaml").contains("unix:///run/containerd/containerd.sock"));
  }

  @Test
  void imageStore() throws IOException {
    ContainerdStore.Catalog w = ContainerdStore.read(worker.read(
        "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"), "k8s.io");
    Set<String> names = new TreeSet<>();
    w.images().forEach(i -> names.add(i.name()));
    assertTrue(names.contains("registry.k8s.io/pause:3.10.1"), names.toString());
    assertTrue(names.contains("ghcr.io/hypervisor-io/cluster-autoscaler-hypervisor:v1.34.1"), names.toString());
    assertTrue(names.stream().noneMatch(n -> n.contains("cloud-controller-manager")), names.toString());
    // containerd 2.x: metadata schema 4, the sandbox image pinned (1.6, on the control plane: 3, no label)
    assertEquals(4, w.version());
    // (all three of the sandbox image's names carry the label, as CRI gives them the same labels)
    assertEquals(List.of("registry.k8s.io/pause:3.10.1"), w.images().stream().filter(ContainerdStore.StoredImage::pinned)
        .map(ContainerdStore.StoredImage::name).filter(n -> !n.contains("@") && !n.startsWith("sha256:")).toList());
    assertEquals(3, w.images().stream().filter(ContainerdStore.StoredImage::pinned).count());
    for (var e : w.content().entrySet()) {
      String blob = "/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256/" + e.getKey().encoded();
      assertEquals(e.getValue(), worker.size(blob), blob);
    }
    assertEquals(Fixtures.published("registry.k8s.io/pause:3.10.1").digest(), w.images().stream()
        .filter(i -> i.name().equals("registry.k8s.io/pause:3.10.1")).findFirst().orElseThrow().digest().toString());
    ContainerdStore.Catalog cp = ContainerdStore.read(controlPlane.read(
        "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"), "k8s.io");
    assertTrue(cp.images().stream().anyMatch(i -> i.name().contains("cloud-controller-manager")));
    assertEquals(3, cp.version());
    assertTrue(cp.images().stream().noneMatch(ContainerdStore.StoredImage::pinned));
    assertTrue(cp.images().stream().noneMatch(i -> i.name().contains("cluster-autoscaler")));
  }

  @Test
  void cloudInit() throws IOException {
    String cfg = text(worker, "/etc/cloud/cloud.cfg.d/99_node_datasource.cfg");
    assertTrue(cfg.contains("NoCloud") && cfg.contains("ConfigDrive"), cfg);
    // sorts after the distro's own datasource files, so it wins
    List<String> files = worker.list("/etc/cloud/cloud.cfg.d");
    assertEquals("99_node_datasource.cfg", files.stream().filter(f -> f.endsWith(".cfg")).sorted()
        .reduce((a, b) -> b).orElseThrow());
  }

  @Test
  void cleanup() throws IOException {
    for (GuestfsSession image : List.of(worker, controlPlane)) {
      assertEquals(0, image.size("/etc/machine-id"));
      assertEquals(List.of(), image.glob("/etc/ssh/ssh_host_*"));
      assertFalse(image.exists("/var/lib/cloud/instance"));
      assertFalse(image.exists("/etc/hypervisor.io/cluster.json"));
      assertFalse(image.exists("/etc/kubernetes/admin.conf"));
      assertEquals(List.of(), image.glob("/root/.bash_history"));
      assertEquals(List.of(), image.glob("/var/log/assemble*"));
    }
  }

  @Test
  void readsEveryKindOfFileExactly() throws IOException {
    // read() takes small text files from one pread reply and downloads the rest: ASCII, UTF-8
    // (dpkg's status names maintainers), binary with a NUL early or a high byte first (a keyring),
    // empty, and one past the pread limit; each must be the bytes the appliance hashes.
    for (String p : List.of("/etc/passwd", "/var/lib/dpkg/status", "/usr/bin/ls", "/etc/machine-id",
        "/etc/apt/keyrings/kubernetes-apt-keyring.gpg", "/usr/bin/containerd")) {
      byte[] b = worker.read(p);
      assertEquals(worker.size(p), b.length, p);
      assertEquals(worker.sha256(p), io.hypervisor.assembler.model.Digest.sha256(b).encoded(), p);
    }
    assertTrue(new String(worker.read("/var/lib/dpkg/status"), StandardCharsets.UTF_8).chars().anyMatch(c -> c > 0x7f),
        "the status file has non-ASCII text: the checked path ran");
    assertTrue(worker.size("/usr/bin/containerd") > 1 << 20);
    String blobs = "/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256";
    Map<String, String> sums = worker.sha256Under(blobs);
    assertEquals(new TreeSet<>(worker.list(blobs)), sums.keySet());
    sums.forEach((name, sum) -> assertEquals(name, sum, "a content blob is named by its sha256"));
    assertEquals(Map.of(), worker.sha256Under("/nonexistent"));
  }

  @Test
  void finish() throws IOException {
    // A clean unmount: the root file system's state is "clean", so first boot needs no fsck.
    // Read by the appliance's tune2fs, not the image's dumpe2fs through `command`: that one needs
    // libguestfs's bind mount of /dev into the read-only root, which once failed in CI (ENOENT on /dev/sda1).
    Map<String, String> superblock = worker.superblock(worker.os().root());
    assertEquals("clean", superblock.get("Filesystem state"), superblock.toString());
  }
}
