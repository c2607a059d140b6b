package io.hypervisor.assembler.testworld;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.Partition;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The cloud-image stand-in inspects as Debian 12 under libguestfs and is shaped like Debian's
 * genericcloud image: GPT with BIOS-boot and EFI partitions, ext4 root as the physically last
 * partition, GRUB on the serial console, cloud-init, and none of the node packages.
 */
@Tag("integration")
class BaseImageIT {
  static final String BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
  static final String EFI = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

  @Test
  void inspectsAsDebian12ShapedLikeGenericcloud() throws Exception {
    Path image = Fixtures.part("base-image").resolve("debian-12-generic.qcow2");
    GuestFS g = Guests.openReadOnly(image);
    try {
      String root = g.inspect_os()[0];
      assertEquals("linux", g.inspect_get_type(root));
      assertEquals("debian", g.inspect_get_distro(root));
      assertEquals(12, g.inspect_get_major_version(root));
      assertEquals("apt", g.inspect_get_package_management(root));
      assertEquals("gpt", g.part_get_parttype("/dev/sda"));
      Partition last = Arrays.stream(g.part_list("/dev/sda")).max(Comparator.comparingLong(p -> p.part_end)).orElseThrow();
      assertEquals(1, last.part_num, "root is the physically last partition, so it can grow");
      assertEquals("ext4", g.vfs_type("/dev/sda1"));
      assertEquals(BIOS_BOOT, g.part_get_gpt_type("/dev/sda", 14));
      assertEquals(EFI, g.part_get_gpt_type("/dev/sda", 15));
      assertEquals("vfat", g.vfs_type("/dev/sda15"));

      g.mount_ro(root, "/");
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
      assertFalse(g.cat("/etc/fstab").contains("swap"));
    } finally {
      Guests.close(g);
    }
  }

  @Test
  void theSwapVariantActivatesASwapFile() throws Exception {
    GuestFS g = Guests.openReadOnly(Fixtures.part("base-image").resolve("debian-12-generic-swap.qcow2"));
    try {
      g.mount_ro(g.inspect_os()[0], "/");
      assertTrue(g.cat("/etc/fstab").contains("/swapfile none swap sw 0 0"));
      assertTrue(g.file("/swapfile").contains("swap file"), g.file("/swapfile"));
    } finally {
      Guests.close(g);
    }
  }
}
