package io.hypervisor.assembler.testworld;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.LibGuestFSException;
import com.redhat.et.libguestfs.Partition;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.guestfs.QuickInspection;
import io.hypervisor.assembler.tree.Ext4Reader;
import io.hypervisor.assembler.tree.RootTree;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cloud-image stand-ins inspect as Debian 12 and 13 under libguestfs and are shaped like
 * Debian's genericcloud images: GPT with BIOS-boot and EFI partitions, ext4 root as the
 * physically last partition, GRUB on the serial console, cloud-init, and none of the node
 * packages. One appliance reads all three disks (Debian 12, its swap variant, Debian 13): a
 * launch costs tens of seconds under TCG.
 */
@Tag("integration")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BaseImageIT {
  static final String BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
  static final String EFI = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
  static final List<Path> DISKS = List.of(Fixtures.part("base-image").resolve("debian-12-generic.qcow2"),
      Fixtures.part("base-image").resolve("debian-12-generic-swap.qcow2"),
      Fixtures.part("base-image-debian-13").resolve("debian-13-generic.qcow2"));

  GuestFS g;
  String[] roots;

  @TempDir
  Path tmp;

  @BeforeAll
  void launch() throws LibGuestFSException {
    g = new GuestFS();
    if (Guests.accelerator() == io.hypervisor.assembler.model.Accelerator.TCG) {
      g.set_backend_setting("force_tcg", "1");
    }
    for (Path d : DISKS) {
      g.add_drive_opts(d.toString(), Map.of("readonly", Boolean.TRUE, "format", "qcow2"));
    }
    Guests.launch(g);
    roots = g.inspect_os(); // once: inspection costs seconds per disk under TCG
  }

  @AfterAll
  void close() {
    if (g != null) {
      Guests.close(g);
    }
  }

  /** The root device of the n-th disk (sda, sdb, sdc), mounted read-only at / alone. */
  private String mountRoot(int disk) throws LibGuestFSException {
    g.umount_all();
    String dev = "/dev/sd" + (char) ('a' + disk);
    String root = Arrays.stream(roots).filter(r -> r.startsWith(dev)).findFirst()
        .orElseThrow(() -> new AssertionError("no operating system on " + dev + " (" + DISKS.get(disk) + ")"));
    g.mount_ro(root, "/");
    return root;
  }

  @Test
  void debian12InspectsAsDebian12ShapedLikeGenericcloud() throws Exception {
    String root = mountRoot(0);
    assertShape("/dev/sda", root, 12);
    assertFalse(g.cat("/etc/fstab").contains("swap"));
    assertTrue(g.exists("/etc/network/interfaces"), "Debian 12's genericcloud uses ifupdown");
  }

  @Test
  void debian13InspectsAsDebian13ShapedLikeGenericcloud() throws Exception {
    String root = mountRoot(2);
    assertShape("/dev/sdc", root, 13);
    assertTrue(g.cat("/etc/os-release").contains("VERSION_CODENAME=trixie"), g.cat("/etc/os-release"));
    String systemd = g.cat("/var/lib/dpkg/status");
    assertTrue(systemd.contains("Package: netplan.io\n"), "Debian 13's genericcloud uses netplan");
    assertTrue(g.cat("/etc/apt/sources.list.d/debian.sources").contains("Suites: trixie trixie-updates"));
  }

  private void assertShape(String disk, String root, int major) throws LibGuestFSException {
    assertEquals("linux", g.inspect_get_type(root));
    assertEquals("debian", g.inspect_get_distro(root));
    assertEquals(major, g.inspect_get_major_version(root));
    assertEquals("apt", g.inspect_get_package_management(root));
    assertEquals("gpt", g.part_get_parttype(disk));
    Partition last = Arrays.stream(g.part_list(disk)).max(Comparator.comparingLong(p -> p.part_end)).orElseThrow();
    assertEquals(1, last.part_num, "root is the physically last partition, so it can grow");
    assertEquals("ext4", g.vfs_type(disk + "1"));
    assertEquals(BIOS_BOOT, g.part_get_gpt_type(disk, 14));
    assertEquals(EFI, g.part_get_gpt_type(disk, 15));
    assertEquals("vfat", g.vfs_type(disk + "15"));

    assertTrue(g.cat("/boot/grub/grub.cfg").contains("console=ttyS0"), "GRUB boots on the serial console");
    assertTrue(g.glob_expand("/boot/vmlinuz-*").length == 1 && g.glob_expand("/boot/initrd.img-*").length == 1);
    for (String present : new String[] {"/usr/bin/cloud-init", "/usr/sbin/sshd", "/lib/systemd/systemd",
        "/etc/apt/sources.list.d/debian.sources", "/usr/share/keyrings/debian-archive-keyring.gpg"}) {
      assertTrue(g.exists(present), present);
    }
    for (String absent : new String[] {"/usr/bin/containerd", "/usr/bin/kubeadm", "/usr/bin/kubelet",
        "/usr/sbin/qemu-ga", "/usr/sbin/conntrack", "/usr/bin/socat", "/usr/sbin/ipset", "/usr/bin/jq"}) {
      assertFalse(g.exists(absent), absent + " must not be in the base: the assembler adds it");
    }
    String status = g.cat("/var/lib/dpkg/status");
    assertTrue(status.contains("Package: cloud-init\n"));
    assertFalse(status.contains("Package: containerd\n"));
    String datasources = g.cat("/etc/cloud/cloud.cfg.d/90_dpkg.cfg");
    assertTrue(datasources.contains("NoCloud") && datasources.contains("ConfigDrive"), datasources);
    assertEquals("", g.cat("/etc/machine-id"));
  }

  /**
   * The host's ext4 reader against GNU tar in the appliance, on real roots (the build reads its
   * tree on the host from the closed disk): the same manifest, path for path, for Debian 12 and 13
   * (owners, modes, times with nanoseconds, hard links, symlinks; ReproducibleBuildIT's built tree
   * adds ping's security.capability).
   */
  @Test
  void theHostReadsTheSameTreeAsTheAppliancesTar() throws Exception {
    for (int disk : new int[] {0, 2}) {
      String root = mountRoot(disk);
      Path tar = tmp.resolve("root-" + disk + ".tar");
      g.tar_out("/", tar.toString(), Map.of("numericowner", Boolean.TRUE, "xattrs", Boolean.TRUE, "selinux",
          Boolean.TRUE, "acls", Boolean.TRUE));
      int num = g.part_to_partnum(root);
      Partition p = Arrays.stream(g.part_list(root.replaceFirst("\\d+$", ""))).filter(x -> x.part_num == num)
          .findFirst().orElseThrow();
      Path raw = tmp.resolve("disk-" + disk + ".raw");
      Tools.run(List.of("qemu-img", "convert", "-U", "-O", "raw", DISKS.get(disk).toString(), raw.toString()),
          tmp, 600).ok();
      // the host's reading of the partition table (a build without an appliance) against parted's
      String dev = root.replaceFirst("\\d+$", "");
      List<String> parted = Arrays.stream(g.part_list(dev)).sorted(Comparator.comparingLong(x -> x.part_start))
          .map(x -> "/dev/sda" + x.part_num + " " + x.part_num + " " + x.part_start + " " + x.part_size).toList();
      List<String> onHost = io.hypervisor.assembler.assemble.HostPartitions.read(raw).orElseThrow().stream()
          .map(x -> x.device() + " " + x.number() + " " + x.start() + " " + x.size()).toList();
      assertEquals(parted, onHost, DISKS.get(disk).toString());
      assertEquals("ext4", io.hypervisor.assembler.assemble.HostPartitions.read(raw).orElseThrow().stream()
          .filter(x -> x.number() == num).findFirst().orElseThrow().fsType());
      try (java.io.InputStream in = java.nio.file.Files.newInputStream(tar);
          RootTree appliance = RootTree.read(in, tmp.resolve("a.spool"), Long.MAX_VALUE);
          RootTree host = Ext4Reader.tree(raw, p.part_start, p.part_size, tmp.resolve("h.spool"), Long.MAX_VALUE)) {
        String a = new String(appliance.manifest(), java.nio.charset.StandardCharsets.UTF_8);
        String h = new String(host.manifest(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(appliance.entries().size() > 5000, appliance.entries().size() + " paths");
        assertTrue(a.matches("(?s).*time=\\d+\\.[0-9]*[1-9][0-9]* .*"), "some times have nanoseconds");
        assertEquals(a, h, DISKS.get(disk).toString());
      } finally {
        java.nio.file.Files.deleteIfExists(raw);
        java.nio.file.Files.deleteIfExists(tar);
      }
    }
  }

  /**
   * The build's quick reading of a plain layout against libguestfs's inspection, each disk alone in
   * an appliance as a build opens it (these disks share their labels, which inspection resolves
   * across all of a handle's disks): the same OS, version (Debian's minor from debian_version),
   * architecture, package format, root and mount points (the swap variant's swap file skipped).
   */
  @Test
  void theQuickInspectionAgreesWithLibguestfs() throws Exception {
    for (Path disk : List.of(DISKS.get(1), DISKS.get(2))) {
      GuestFS one = new GuestFS();
      try {
        if (Guests.accelerator() == io.hypervisor.assembler.model.Accelerator.TCG) {
          one.set_backend_setting("force_tcg", "1");
        }
        one.add_drive_opts(disk.toString(), Map.of("readonly", Boolean.TRUE, "format", "qcow2"));
        Guests.launch(one);
        var quick = QuickInspection.of(one);
        assertTrue(quick.isPresent(), "a plain layout: " + disk);
        assertEquals(GuestfsSession.inspected(one), quick.get(), disk.toString());
        assertEquals(List.of(), Arrays.asList(one.mounts()), "nothing left mounted");
      } finally {
        Guests.close(one);
      }
    }
  }

  @Test
  void theSwapVariantActivatesASwapFile() throws Exception {
    mountRoot(1);
    assertTrue(g.cat("/etc/fstab").contains("/swapfile none swap sw 0 0"));
    assertTrue(g.file("/swapfile").contains("swap file"), g.file("/swapfile"));
  }
}
