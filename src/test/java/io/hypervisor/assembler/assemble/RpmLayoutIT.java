package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.redhat.et.libguestfs.GuestFS;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.sys.Posix;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The EL9 GenericCloud disk layout as Rocky's kickstart makes it (GPT: 1 MiB BIOS boot, 100 MiB
 * ESP, xfs {@code /boot} with the XBOOTLDR type, xfs root last with the x86-64 root type, fstab by
 * UUID) with identity files only (os-release, the release file and its redhat-release and
 * system-release links, {@code /bin -> usr/bin}, one x86-64 binary, no debian_version): what
 * inspection, mounting, growing and the OS check see of a real Rocky or AlmaLinux image. It
 * cannot prove anything about their packages (the rpm-family stand-in of issue 15 does that).
 * libguestfs 1.48 calls AlmaLinux "redhat-based"; the session must say almalinux 9.4.
 */
@Tag("integration")
class RpmLayoutIT {
  private static final long MIB = 1 << 20;

  @TempDir
  static Path tmp;

  private static Path rocky;
  private static Path alma;

  /** Both disks made in one appliance (mkfs.xfs needs libguestfs-xfs in it). */
  @BeforeAll
  static void disks() {
    rocky = tmp.resolve("rocky-9.raw");
    alma = tmp.resolve("almalinux-9.raw");
    SuiteImages.slot("EL9-layout disks", () -> {
      for (Path d : List.of(rocky, alma)) {
        Tools.run(List.of("truncate", "-s", "1G", d.toString())).ok();
      }
      GuestFS g = new GuestFS();
      try {
        if (Guests.accelerator() == io.hypervisor.assembler.model.Accelerator.TCG) {
          g.set_backend_setting("force_tcg", "1");
        }
        g.add_drive_opts(rocky.toString(), Map.of("format", "raw"));
        g.add_drive_opts(alma.toString(), Map.of("format", "raw"));
        Guests.launch(g);
        layout(g, "/dev/sda", "rocky", "Rocky Linux", "rocky-release", "Rocky Linux release 9.4 (Blue Onyx)");
        layout(g, "/dev/sdb", "almalinux", "AlmaLinux", "almalinux-release",
            "AlmaLinux release 9.4 (Seafoam Ocelot)");
        g.umount_all();
        g.sync();
      } finally {
        Guests.close(g);
      }
      return null;
    });
  }

  private static void layout(GuestFS g, String dev, String id, String name, String releaseFile, String release)
      throws Exception {
    g.part_init(dev, "gpt");
    long s = 2048;
    g.part_add(dev, "p", s, s + 2048 - 1);
    g.part_add(dev, "p", s + 2048, s + 2048 + 100 * 2048 - 1);
    g.part_add(dev, "p", s + 2048 + 100 * 2048, s + 2048 + 400 * 2048 - 1);
    g.part_add(dev, "p", s + 2048 + 400 * 2048, -34);
    g.part_set_gpt_type(dev, 1, "21686148-6449-6E6F-744E-656564454649");
    g.part_set_gpt_type(dev, 2, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    g.part_set_gpt_type(dev, 3, "BC13C2FF-59E6-4262-A352-B275FD6F7172");
    g.part_set_gpt_type(dev, 4, "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
    g.mkfs("vfat", dev + "2");
    g.mkfs("xfs", dev + "3");
    g.mkfs("xfs", dev + "4");
    g.umount_all();
    g.mount(dev + "4", "/");
    g.mkdir_p("/boot");
    g.mount(dev + "3", "/boot");
    g.mkdir_p("/boot/efi");
    g.mount(dev + "2", "/boot/efi");
    g.mkdir_p("/etc");
    g.mkdir_p("/usr/bin");
    g.mkdir_p("/usr/lib");
    g.ln_s("usr/bin", "/bin");
    g.upload("/bin/ls", "/usr/bin/ls"); // inspection takes the architecture from a binary
    g.write("/usr/lib/os-release", bytes("NAME=\"" + name + "\"\nVERSION=\"9.4\"\nID=\"" + id + "\"\nID_LIKE=\"rhel "
        + "centos fedora\"\nVERSION_ID=\"9.4\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"" + name + " 9.4\"\n"));
    g.ln_s("../usr/lib/os-release", "/etc/os-release");
    g.write("/etc/" + releaseFile, bytes(release + "\n"));
    g.ln_s(releaseFile, "/etc/redhat-release");
    g.ln_s(releaseFile, "/etc/system-release");
    g.write("/etc/hosts", bytes("127.0.0.1 localhost\n"));
    g.write("/etc/fstab", bytes("UUID=" + g.vfs_uuid(dev + "4") + " / xfs defaults 0 0\n"
        + "UUID=" + g.vfs_uuid(dev + "3") + " /boot xfs defaults 0 0\n"
        + "UUID=" + g.vfs_uuid(dev + "2") + " /boot/efi vfat umask=0077,shortname=winnt 0 2\n"));
    g.write("/etc/assemble-test-image", bytes("EL9 GenericCloud layout with identity files only (RpmLayoutIT)\n"));
    g.umount_all();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  private GuestfsSession.Options build(Path disk, String name) throws Exception {
    Path overlay = tmp.resolve(name + ".qcow2");
    QemuImg.overlay(disk, "raw", overlay, 3L << 30);
    return GuestfsSession.Options.build(overlay, Guests.accelerator(), Duration.ofMinutes(10),
        java.nio.file.Files.createDirectories(tmp.resolve(name + "-work")), p -> Posix.mkfifo(p, 0600))
        .withCpus(Integer.parseInt(Guests.CPUS));
  }

  @Test
  void rockyIsInspectedMountedAndItsXfsRootGrowsToTheDisk() {
    SuiteImages.slot("Rocky 9 layout", () -> {
      try (GuestfsSession s = GuestfsSession.open(build(rocky, "rocky"), EventSink.NONE)) {
        assertEquals("rocky", s.os().distro());
        assertEquals(9, s.os().major());
        assertEquals(4, s.os().minor());
        assertEquals("rpm", s.os().packageFormat());
        assertEquals("x86_64", s.os().arch());
        assertEquals(Map.of("/", "/dev/sda4", "/boot", "/dev/sda3", "/boot/efi", "/dev/sda2"), s.os().mountpoints());
        long root = s.fileSystemBytes("/");
        // 3 GiB disk less 401 MiB before the root and xfs's own log and metadata
        assertTrue(root > 2500 * MIB, "the xfs root was grown: " + (root / MIB) + " MiB");
        assertTrue(s.fileSystemBytes("/boot") < 310 * MIB, "/boot is its own xfs, mounted, not grown");
        assertTrue(s.exists("/etc/assemble-test-image"));
        Assembler.checkOs(s.os(), "rocky-9", "dnf");
        AssemblerException e = assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "almalinux-9",
            "dnf"));
        assertTrue(e.getMessage().contains("the base image is rocky 9.4 (rpm), but the recipe says base.os: "
            + "almalinux-9"), e.getMessage());
        assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "debian-12", "apt"));
      }
      return null;
    });
  }

  @Test
  void almaLinuxIsAlmaLinuxNotRedhatBased() {
    SuiteImages.slot("AlmaLinux 9 layout", () -> {
      try (GuestfsSession s = GuestfsSession.open(GuestfsSession.Options.readOnly(alma, "raw", Guests.accelerator(),
          Duration.ofMinutes(10)).withCpus(Integer.parseInt(Guests.CPUS)), EventSink.NONE)) {
        assertEquals("almalinux", s.os().distro(), "os-release's ID, where libguestfs says redhat-based");
        assertEquals(9, s.os().major());
        assertEquals(4, s.os().minor());
        Assembler.checkOs(s.os(), "almalinux-9", "dnf");
        Assembler.checkOs(s.os(), "almalinux-9.4", "dnf");
        assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "rocky-9", "dnf"));
      }
      return null;
    });
  }
}
