package io.hypervisor.assembler.steps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.containerd.ContainerdStoreTest;
import io.hypervisor.assembler.containerd.StoreOptions;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.Platform;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each step against a directory-backed image: what it writes, removes and asks the image to run. */
class StepsTest {
  @TempDir
  Path tmp;
  DirectorySession image;

  @BeforeEach
  void tree() throws IOException {
    image = new DirectorySession(tmp.resolve("root"));
    Files.createDirectories(image.root);
  }

  void file(String path, String content) throws IOException {
    image.write(path, content.getBytes(StandardCharsets.UTF_8), 0644);
  }

  String text(String path) throws IOException {
    byte[] b = image.read(path);
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  @Test
  void servicesAreEnabledDisabledAndMaskedAsSystemctlWould() throws IOException {
    file("/lib/systemd/system/containerd.service", "[Unit]\nDescription=containerd\n[Install]\nWantedBy=multi-user.target\n");
    file("/lib/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet\n[Install]\nWantedBy=multi-user.target\n");
    file("/lib/systemd/system/qemu-guest-agent.service", "[Unit]\nBindsTo=dev-virtio\\x2dports-org.qemu.guest_agent.0.device\n");
    // kubelet's postinst enabled it, as deb-systemd-helper does
    image.symlink("/lib/systemd/system/kubelet.service", "/etc/systemd/system/multi-user.target.wants/kubelet.service");
    String summary = new ServicesStep(new ServicesStep.Options(List.of("containerd.service", "qemu-guest-agent.service"),
        List.of("kubelet.service"), List.of("swap.target"))).apply(image, EventSink.NONE);
    assertEquals("/lib/systemd/system/containerd.service",
        image.readlink("/etc/systemd/system/multi-user.target.wants/containerd.service"));
    assertEquals(Units.State.ENABLED, Units.state(image, "containerd.service"));
    assertEquals(Units.State.DISABLED, Units.state(image, "kubelet.service"));
    assertEquals(Units.State.STATIC, Units.state(image, "qemu-guest-agent.service"));
    assertEquals(Units.State.MASKED, Units.state(image, "swap.target"));
    assertEquals("containerd.service enabled, qemu-guest-agent.service static, kubelet.service disabled, "
        + "swap.target masked", summary);
    IOException e = assertThrows(IOException.class, () -> Units.enable(image, "nope.service"));
    assertTrue(e.getMessage().contains("no such unit"), e.getMessage());
  }

  @Test
  void swapEntriesAndFilesGoAndZramIsDisabled() throws IOException {
    file("/etc/fstab", "# <file system> <mount point> <type>\nUUID=abc / ext4 rw 0 1\n/swapfile none swap sw 0 0\n"
        + "UUID=def none swap sw 0 0\n");
    file("/swapfile", "x");
    file("/usr/lib/systemd/zram-generator.conf", "[zram0]\n");
    String s = new SwapStep(new SwapStep.Options(true)).apply(image, EventSink.NONE);
    assertEquals("# <file system> <mount point> <type>\nUUID=abc / ext4 rw 0 1\n", text("/etc/fstab"));
    assertFalse(image.exists("/swapfile"));
    assertEquals("", text("/etc/systemd/zram-generator.conf"));
    assertEquals("/dev/null", image.readlink("/etc/systemd/system/swap.target"));
    assertTrue(s.startsWith("removed /swapfile, removed UUID=def, swap.target masked"), s);
  }

  @Test
  void selinuxPermissiveFirewalldMaskedRelabelAtBoot() throws IOException {
    file("/etc/selinux/config", "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n");
    file("/usr/lib/systemd/system/firewalld.service", "[Install]\nWantedBy=multi-user.target\nAlias=dbus-org.fedoraproject.FirewallD1.service\n");
    image.symlink("/usr/lib/systemd/system/firewalld.service", "/etc/systemd/system/multi-user.target.wants/firewalld.service");
    image.symlink("/usr/lib/systemd/system/firewalld.service", "/etc/systemd/system/dbus-org.fedoraproject.FirewallD1.service");
    new SelinuxStep(new SelinuxStep.Options("permissive")).apply(image, EventSink.NONE);
    new SelinuxRelabelStep(new SelinuxRelabelStep.Options(null)).apply(image, EventSink.NONE);
    assertEquals("# comment\nSELINUX=permissive\nSELINUXTYPE=targeted\n", text("/etc/selinux/config"));
    assertEquals(Units.State.MASKED, Units.state(image, "firewalld.service"));
    assertNull(image.readlink("/etc/systemd/system/multi-user.target.wants/firewalld.service"));
    assertNull(image.readlink("/etc/systemd/system/dbus-org.fedoraproject.FirewallD1.service"));
    // no setfiles in this image: it relabels itself at first boot
    assertTrue(image.exists("/.autorelabel"));
  }

  @Test
  void firewalldAbsentIsReportedNotMasked() throws IOException {
    file("/etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=targeted\n");
    String s = new SelinuxStep(new SelinuxStep.Options("permissive")).apply(image, EventSink.NONE);
    assertEquals("SELINUX=permissive, firewalld not installed", s);
    assertEquals(Units.State.MISSING, Units.state(image, "firewalld.service"));
  }

  @Test
  void relabelsWithTheImagesSetfilesAndThePolicyItNames() throws Exception {
    // SELINUXTYPE is read, not assumed: Debian's policy is "default", EL's "targeted"
    file("/etc/selinux/config", "SELINUX=permissive\nSELINUXTYPE=\"default\"\n");
    file("/etc/selinux/default/contexts/files/file_contexts", "/.* system_u:object_r:default_t:s0\n");
    file("/usr/sbin/setfiles", "");
    String s = new SelinuxRelabelStep(new SelinuxRelabelStep.Options(null)).apply(image, EventSink.NONE);
    assertEquals("relabelled everything with the image's /usr/sbin/setfiles and its default policy"
        + " (the base's newest change is not known)", s);
    assertEquals(List.of("/usr/sbin/setfiles -F -e /proc -e /sys -e /dev -e /run "
        + "/etc/selinux/default/contexts/files/file_contexts /\n"), image.scripts);
    assertFalse(image.exists("/.autorelabel"));
    // the base's newest change known: what changed after it, if the base is labelled
    image.scripts.clear();
    new SelinuxRelabelStep(new SelinuxRelabelStep.Options(1_700_000_000L)).apply(image, EventSink.NONE);
    String script = image.scripts.get(0);
    assertTrue(script.contains("find / \\( -path /proc -o -path /sys -o -path /dev -o -path /run \\) -prune -o "
        + "-newerct @1700000000 ! -type d -print0"), script);
    assertTrue(script.contains("-newerct @1700000000 -type d -printf '%Z%p\\0'"), script);
    assertTrue(script.contains("/usr/sbin/setfiles -F -0 -f " + SelinuxRelabelStep.LIST
        + " /etc/selinux/default/contexts/files/file_contexts >&2"), script);
    assertEquals(0, new ProcessBuilder("sh", "-n", Files.writeString(tmp.resolve("relabel.sh"), script).toString())
        .inheritIO().start().waitFor());
    // a policy the image does not carry: relabel at first boot, and say why
    file("/etc/selinux/config", "SELINUX=enforcing\nSELINUXTYPE=mls\n");
    s = new SelinuxRelabelStep(new SelinuxRelabelStep.Options(1_700_000_000L)).apply(image, EventSink.NONE);
    assertTrue(s.contains("no /etc/selinux/mls/contexts/files/file_contexts"), s);
    assertTrue(image.exists("/.autorelabel"));
  }

  @Test
  void cleanupLeavesNoIdentityStateOrClusterMaterial() throws IOException {
    for (String f : List.of("/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub", "/var/lib/cloud/instance/x",
        "/var/lib/cloud/seed/nocloud/user-data", "/var/lib/dhcp/dhclient.eth0.leases", "/root/.bash_history", "/tmp/x",
        "/tmp/.hidden", "/var/tmp/y", "/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/admin.conf", "/root/.kube/config",
        "/etc/cni/net.d/10-cilium.conflist", "/etc/hypervisor.io/cluster.json", "/var/cache/assemble/packages/000_a.deb",
        "/usr/sbin/policy-rc.d", "/var/cache/apt/archives/a.deb", "/var/log/journal/abc/system.journal",
        "/var/cache/dnf/baseos-1/repodata/repomd.xml", "/var/cache/libdnf5/fedora-1/repodata/repomd.xml")) {
      file(f, "secret");
    }
    file("/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    file("/var/log/syslog", "lots");
    file("/var/log/apt/history.log", "apt");
    file("/etc/ssh/sshd_config", "keep me");
    new CleanupStep(new CleanupStep.Options(List.of())).apply(image, EventSink.NONE);
    for (String f : List.of("/etc/ssh/ssh_host_ed25519_key", "/var/lib/cloud/instance", "/var/lib/cloud/seed",
        "/var/lib/dhcp/dhclient.eth0.leases", "/root/.bash_history", "/tmp/x", "/tmp/.hidden", "/var/tmp/y",
        "/etc/kubernetes/pki", "/etc/kubernetes/admin.conf", "/root/.kube", "/etc/cni/net.d/10-cilium.conflist",
        "/etc/hypervisor.io/cluster.json", "/var/cache/assemble", "/usr/sbin/policy-rc.d", "/var/cache/apt/archives/a.deb",
        "/var/log/journal/abc", "/var/cache/dnf/baseos-1", "/var/cache/libdnf5/fedora-1")) {
      assertFalse(image.exists(f), f);
    }
    assertEquals("", text("/etc/machine-id"));
    assertEquals("", text("/var/log/syslog"));
    assertEquals("", text("/var/log/apt/history.log"));
    assertEquals("keep me", text("/etc/ssh/sshd_config"));
    assertTrue(image.exists("/var/lib/cloud"), "the directory stays, its content goes");
  }

  @Test
  void dnfAndDnf5InstallTheLocksFilesWithEveryRepositoryDisabled() throws Exception {
    PackagesStep step = new PackagesStep(new PackagesStep.Options("dnf", List.of(
        new PackagesStep.PackageFile("kubelet", "1.34.2-150500.1.1", Digest.sha256(new byte[0]), 0)), List.of()), null);
    String script = step.script();
    // dnf 4 (EL8/9, Fedora <= 40) and dnf5 (Fedora 41+), chosen by what the image has
    String dnf = "dnf install -y -q --disablerepo='*' --setopt=install_weak_deps=False --setopt=tsflags=nodocs "
        + PackagesStep.DIR + "/*.rpm";
    String dnf5 = "dnf5 install -y -q --disable-repo='*' --setopt=install_weak_deps=False --no-docs "
        + PackagesStep.DIR + "/*.rpm";
    assertTrue(script.contains("if [ -x /usr/bin/dnf5 ]; then\n  " + dnf5 + "\n  dnf5 clean all\nelse\n  " + dnf
        + "\n  dnf clean all\nfi\n"), script);
    assertEquals(List.of("kubelet.rpm"), step.fileNames().stream().map(n -> n.substring(4)).toList());
    // the shell accepts it (sh -n parses without running)
    Path f = Files.writeString(tmp.resolve("install.sh"), script);
    assertEquals(0, new ProcessBuilder("sh", "-n", f.toString()).inheritIO().start().waitFor());
  }

  /**
   * The dnf family's script run by the shell with stand-ins for dnf and dnf5 that record their
   * arguments, under a temporary root (its two absolute paths moved there): the words each
   * receives, quoting and glob expanded, the lock's files in order, the files' directory gone.
   */
  @Test
  void theDnfScriptHandsTheLocksFilesToDnfOrDnf5AsTheImageHasThem() throws Exception {
    PackagesStep step = new PackagesStep(new PackagesStep.Options("dnf", List.of(
        new PackagesStep.PackageFile("kubelet", "1.34.2-150500.1.1", Digest.sha256(new byte[0]), 0),
        new PackagesStep.PackageFile("kubeadm", "1.34.2-150500.1.1", Digest.sha256(new byte[1]), 1)), List.of()), null);
    for (boolean five : List.of(false, true)) {
      Path root = Files.createDirectories(tmp.resolve(five ? "fedora-41" : "el9"));
      Path bin = Files.createDirectories(root.resolve("usr/bin"));
      Path dir = Files.createDirectories(root.resolve(PackagesStep.DIR.substring(1)));
      Path log = root.resolve("argv.log");
      for (String name : five ? List.of("dnf", "dnf5") : List.of("dnf")) {
        Path stub = Files.writeString(bin.resolve(name), "#!/bin/sh\n{ printf '%s' \"$(basename \"$0\")\"; "
            + "for a in \"$@\"; do printf '|%s' \"$a\"; done; echo; } >> " + log + "\n");
        stub.toFile().setExecutable(true);
      }
      for (String n : step.fileNames()) {
        Files.writeString(dir.resolve(n), n);
      }
      String moved = step.script().replace("/usr/bin/dnf5", bin.resolve("dnf5").toString())
          .replace("/var/cache/assemble", root.resolve("var/cache/assemble").toString());
      assertFalse(moved.matches("(?s).*[ ']/(var|usr|etc)/.*"), "nothing of the host's is named: " + moved);
      ProcessBuilder pb = new ProcessBuilder("sh", "-e", "-c", moved).directory(root.toFile()).redirectErrorStream(true);
      pb.environment().put("PATH", bin + ":/usr/bin:/bin");
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(0, p.waitFor(), out);
      String files = dir + "/000_kubelet.rpm|" + dir + "/001_kubeadm.rpm";
      assertEquals(five
          ? "dnf5|install|-y|-q|--disable-repo=*|--setopt=install_weak_deps=False|--no-docs|" + files + "\ndnf5|clean|all\n"
          : "dnf|install|-y|-q|--disablerepo=*|--setopt=install_weak_deps=False|--setopt=tsflags=nodocs|" + files
              + "\ndnf|clean|all\n", Files.readString(log));
      assertFalse(Files.exists(root.resolve("var/cache/assemble")), "the files' directory is removed");
    }
  }

  @Test
  void packagesGoInAsOneTarAndInstallOfflineWithServicesHeldBack() throws IOException {
    ContentStore store = ContentStore.open(tmp.resolve("cas"));
    Digest a = store.put("deb-a".getBytes(StandardCharsets.UTF_8));
    Digest b = store.put("deb-b".getBytes(StandardCharsets.UTF_8));
    PackagesStep step = new PackagesStep(new PackagesStep.Options("apt", List.of(
        new PackagesStep.PackageFile("containerd", "1.6.20~ds1-1+deb12u1", a, 5),
        new PackagesStep.PackageFile("kubelet", "1.34.2-1.1", b, 5)), List.of("kubelet", "kubeadm", "kubectl"),
        List.of(1, 0)), store);
    // The files arrive before the script runs; the script removes them, so capture them at run time.
    String summary = step.apply(new DirectorySession(image.root) {
      @Override
      public void run(String what, String script) {
        try {
          assertEquals("deb-a", Files.readString(at(PackagesStep.DIR + "/000_containerd.deb")));
          assertEquals("deb-b", Files.readString(at(PackagesStep.DIR + "/001_kubelet.deb")));
        } catch (IOException e) {
          throw new AssertionError(e);
        }
        image.scripts.add(script);
      }
    }, EventSink.NONE);
    String script = image.scripts.get(0);
    // one dpkg run per round, the lock's order within it: containerd pre-depends on something in run 0 here
    String dpkg = "dpkg -i --force-confdef --force-confold --force-unsafe-io ";
    assertTrue(script.contains("cd " + PackagesStep.DIR + "\n" + dpkg + "001_kubelet.deb\n" + dpkg
        + "000_containerd.deb\n"), script);
    assertTrue(script.indexOf("policy-rc.d") < script.indexOf("dpkg -i"), script);
    assertFalse(script.contains("apt-get install"), script);
    assertTrue(script.contains("printf 'kubelet hold\\nkubeadm hold\\nkubectl hold\\n' | dpkg --set-selections"),
        script);
    assertTrue(script.contains("rm -rf /var/cache/assemble"), script);
    assertEquals("2 packages, 0 MiB", summary);
  }

  @Test
  void cloudInitRefusesABaseWhoseLaterFileWouldOverrideTheDatasources() throws IOException {
    file("/etc/cloud/cloud.cfg.d/90_dpkg.cfg", "datasource_list: [ NoCloud, OpenStack, None ]\n");
    ImageFile ours = ImageFile.text("/etc/cloud/cloud.cfg.d/99_node_datasource.cfg", 0644,
        "datasource_list: [ NoCloud, ConfigDrive, None ]\n");
    new CloudInitStep(new CloudInitStep.Options(List.of(ours))).apply(image, EventSink.NONE);
    assertEquals(ours.text(), text(ours.path()));
    file("/etc/cloud/cloud.cfg.d/99_zz_vendor.cfg", "datasource_list: [ Ec2 ]\n");
    IOException e = assertThrows(IOException.class,
        () -> new CloudInitStep(new CloudInitStep.Options(List.of(ours))).apply(image, EventSink.NONE));
    assertTrue(e.getMessage().contains("99_zz_vendor.cfg sorts after"), e.getMessage());
  }

  @Test
  void containerdConfigNeedsContainerdAndFileStepsWriteTheirFiles() throws IOException {
    ImageFile cfg = ImageFile.text("/etc/containerd/config.toml", 0644, "version = 2\n");
    IOException e = assertThrows(IOException.class,
        () -> new ContainerdConfigStep(new ContainerdConfigStep.Options(List.of(cfg))).apply(image, EventSink.NONE));
    assertTrue(e.getMessage().contains("containerd is not installed"), e.getMessage());
    file("/usr/bin/containerd", "");
    new ContainerdConfigStep(new ContainerdConfigStep.Options(List.of(cfg))).apply(image, EventSink.NONE);
    assertEquals("version = 2\n", text("/etc/containerd/config.toml"));
    new KernelStep(new KernelStep.Options(List.of(ImageFile.text("/etc/modules-load.d/k8s.conf", 0644, "overlay\n"))))
        .apply(image, EventSink.NONE);
    assertEquals("overlay\n", text("/etc/modules-load.d/k8s.conf"));
    new RepositoriesStep(new RepositoriesStep.Options(List.of(new ImageFile("/etc/apt/keyrings/k.gpg", 0644,
        new byte[] {(byte) 0x99, 1})))).apply(image, EventSink.NONE);
    assertEquals(2, image.read("/etc/apt/keyrings/k.gpg").length);
  }

  @Test
  void imageStoreStreamsContainerdsTreeAndMergesAnExistingMetaDb() throws IOException {
    ContentStore store = ContentStore.open(tmp.resolve("cas"));
    ContainerdStoreTest.Fixture pause = ContainerdStoreTest.image("registry.k8s.io/pause:3.10.1", "a", store);
    ContainerdStoreTest.Fixture dns = ContainerdStoreTest.image("registry.k8s.io/coredns/coredns:v1.12.1", "b", store);
    StoreOptions o = StoreOptions.forContainerd("1.7", "registry.k8s.io/pause:3.10.1", Platform.LINUX_AMD64,
        ContainerdStoreTest.T);
    String first = new ImageStoreStep(new ImageStoreStep.Options(new ContainerdStore.Seed(List.of(pause.image()), o)),
        store).apply(image, EventSink.NONE);
    assertEquals("1 images, 0 MiB", first);
    String meta = "/var/lib/containerd/" + ContainerdStore.METADATA + "/meta.db";
    String blobs = "/var/lib/containerd/" + ContainerdStore.CONTENT + "/blobs/sha256/";
    assertTrue(image.exists(blobs + pause.image().platforms().get(0).config().digest().encoded()));
    // A base that already has images (or a second seeding) keeps them: the meta.db is merged.
    String second = new ImageStoreStep(new ImageStoreStep.Options(new ContainerdStore.Seed(List.of(dns.image()), o)),
        store).apply(image, EventSink.NONE);
    assertTrue(second.endsWith("(merged)"), second);
    List<String> names = ContainerdStore.read(image.read(meta), "k8s.io").images().stream()
        .map(ContainerdStore.StoredImage::name).filter(n -> !n.startsWith("sha256:") && !n.contains("@")).toList();
    assertEquals(List.of("registry.k8s.io/coredns/coredns:v1.12.1", "registry.k8s.io/pause:3.10.1"), names);
  }

  /** The static verify's containerd check: the installed line, the config version and the store schema agree, CRI on. */
  @Test
  void verifyNamesAContainerdLineConfigOrSchemaThatDisagree() throws IOException {
    ContentStore store = ContentStore.open(tmp.resolve("cas"));
    ContainerdStoreTest.Fixture pause = ContainerdStoreTest.image("registry.k8s.io/pause:3.10.1", "a", store);
    new ImageStoreStep(new ImageStoreStep.Options(new ContainerdStore.Seed(List.of(pause.image()),
        StoreOptions.forContainerd("2.1", "registry.k8s.io/pause:3.10.1", Platform.LINUX_AMD64,
            ContainerdStoreTest.T))), store).apply(image, EventSink.NONE);
    io.hypervisor.assembler.recipe.RecipeReader.Result r = new io.hypervisor.assembler.recipe.RecipeReader(
        java.util.Map.of(), List.of()).readText("""
            apiVersion: assemble.hypervisor.io/v1
            kind: NodeImage
            base: {path: base.qcow2, os: debian-12}
            kubernetes: {version: 1.34.2, role: worker}
            containerd: {version: "2.1"}
            """, "t.yaml");
    io.hypervisor.assembler.plan.Plan plan = new io.hypervisor.assembler.plan.Planner(
        io.hypervisor.assembler.plan.KubernetesBom.load()).plan(r.recipe(), r.warnings());
    String ours = plan.files().stream().filter(f -> f.path().equals("/etc/containerd/config.toml")).findFirst()
        .orElseThrow().content();
    java.util.function.BiFunction<String, String, io.hypervisor.assembler.model.Check> check = (pkg, config) -> {
      try {
        image.write("/var/lib/dpkg/status", ("Package: " + pkg.split(" ")[0] + "\nStatus: install ok installed\n"
            + "Version: " + pkg.split(" ")[1] + "\n\n").getBytes(StandardCharsets.UTF_8), 0644);
        image.write("/etc/containerd/config.toml", config.getBytes(StandardCharsets.UTF_8), 0644);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      return new io.hypervisor.assembler.assemble.Verifier(image, plan, null).run(EventSink.NONE).stream()
          .filter(c -> c.name().equals("containerd")).findFirst().orElseThrow();
    };
    var ok = check.apply("containerd.io 2.1.9-1~debian.12~bookworm", ours);
    assertEquals("containerd.io 2.1.9-1~debian.12~bookworm: config version 3, CRI on, metadata schema 4", ok.detail(),
        ok.toString());
    assertFalse(ok.failed());
    // Docker's own config.toml, left in place: no version (1) and CRI disabled
    var docker = check.apply("containerd.io 2.1.9-1~debian.12~bookworm",
        "disabled_plugins = [\"cri\"]\n#root = \"/var/lib/containerd\"\n");
    assertTrue(docker.failed());
    assertTrue(docker.detail().contains("config.toml disables CRI (disabled_plugins [cri])"), docker.detail());
    assertTrue(docker.detail().contains("config.toml is version 1, containerd 2.1 reads version 3"), docker.detail());
    // containerd 1.6 with a store seeded for 2.x
    var old = check.apply("containerd 1.6.20~ds1-1+deb12u3", ours.replace("version = 3", "version = 2"));
    assertTrue(old.failed());
    assertTrue(old.detail().contains("meta.db has metadata schema 4, containerd 1.6 writes 3"), old.detail());
  }

  @Test
  void finishTrims() throws IOException {
    assertEquals("trimmed", new FinishStep(new FinishStep.Options()).apply(image, EventSink.NONE));
    assertEquals(List.of("#fstrim"), image.scripts);
  }

  @Test
  void finishLeavesARootRebuiltFromItsTreeUntrimmed() throws IOException {
    FinishStep finish = new FinishStep(new FinishStep.Options());
    finish.leaveUntrimmed();
    assertEquals("not trimmed: the root file system is rebuilt from its tree", finish.apply(image, EventSink.NONE));
    assertEquals(List.of(), image.scripts, "no fstrim: the other partitions stay the base's bytes");
  }
}
