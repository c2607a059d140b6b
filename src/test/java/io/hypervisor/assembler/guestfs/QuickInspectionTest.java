package io.hypervisor.assembler.guestfs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hypervisor.assembler.guestfs.QuickInspection.BlockId;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The fstab and os-release readings of the quick inspection, by inspection's rules (its fstab
 * code: which entries it keeps, skips, or resolves); the same readings of real disks against
 * libguestfs itself are in BaseImageIT and RpmLayoutIT.
 */
class QuickInspectionTest {
  private static final List<BlockId> DEBIAN = List.of(
      new BlockId("/dev/sda1", "ext4", "3c8a102b-4d12-439b-a031-320010efc7a8", "root", "0d9c28f5-252c", "root"),
      new BlockId("/dev/sda14", "", null, null, "278d67d8", "bios"),
      new BlockId("/dev/sda15", "vfat", "AAD7-18B7", "EFI", "1ac981d6", "efi"));

  @Test
  void debiansLabelsResolveToItsPartitions() {
    assertEquals(Optional.of(Map.of("/", "/dev/sda1", "/boot/efi", "/dev/sda15")), QuickInspection.mountpoints("""
        # /etc/fstab
        LABEL=root / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1
        LABEL=EFI /boot/efi vfat defaults 0 0
        """, DEBIAN, "/dev/sda1"));
  }

  @Test
  void uuidsPartuuidsAndPartlabelsResolveAndPseudoOrSwapEntriesAreSkipped() {
    assertEquals(Optional.of(Map.of("/", "/dev/sda1", "/boot/efi", "/dev/sda15", "/srv", "/dev/sda1")),
        QuickInspection.mountpoints("""
            UUID=3C8A102B-4D12-439B-A031-320010EFC7A8 / ext4 defaults 0 1
            PARTUUID=1ac981d6 /boot/efi vfat umask=0077 0 2
            PARTLABEL=root //srv// ext4 defaults 0 0
            tmpfs /tmp tmpfs defaults 0 0
            proc /proc proc defaults 0 0
            UUID=ffff none swap sw 0 0
            LABEL=gone /data ext4 defaults,nofail 0 0
            /dev/cdrom /media/cdrom iso9660 noauto 0 0
            LABEL=root /sys/x ext4 defaults 0 0
            """, DEBIAN, "/dev/sda1"), "an unresolvable label is skipped, as inspection skips it");
  }

  @Test
  void whatInspectionResolvesItsOwnWayIsLeftToIt() {
    for (String fstab : List.of(
        "/dev/vda1 / ext4 defaults 0 1\n", // kernel names: inspection maps vd/xvd/hd to the appliance's
        "/dev/mapper/rocky-root / xfs defaults 0 0\n",
        "UUID=3c8a102b-4d12-439b-a031-320010efc7a8 / btrfs subvol=root 0 0\n",
        "LABEL=my\\040root / ext4 defaults 0 1\n",
        "LABEL=\"root\" / ext4 defaults 0 1\n",
        "LABEL=root / ext4 defaults 0 1\nLABEL=root / ext4 defaults 0 1\n",
        "LABEL=EFI / vfat defaults 0 1\n", // "/" is not the root that holds the fstab
        "LABEL=EFI /boot/efi vfat defaults 0 0\n")) { // no "/" entry
      assertEquals(Optional.empty(), QuickInspection.mountpoints(fstab, DEBIAN, "/dev/sda1"), fstab);
    }
    List<BlockId> twins = List.of(DEBIAN.get(0), new BlockId("/dev/sda2", "ext4", "x", "root", "y", "z"));
    assertEquals(Optional.empty(), QuickInspection.mountpoints("LABEL=root / ext4 defaults 0 1\n", twins, "/dev/sda1"));
  }

  @Test
  void debianTakesItsMinorFromDebianVersionOthersFromVersionId() {
    String debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";
    assertEquals(Optional.of(new OsRelease("debian", 12, 15)), QuickInspection.identity(debian, "12.15\n"));
    assertEquals(Optional.of(new OsRelease("debian", 12, 0)), QuickInspection.identity(debian, "trixie/sid\n"));
    assertEquals(Optional.of(new OsRelease("ubuntu", 24, 4)),
        QuickInspection.identity("ID=ubuntu\nVERSION_ID=\"24.04\"\n", "trixie/sid\n"));
    assertEquals(Optional.of(new OsRelease("almalinux", 9, 4)),
        QuickInspection.identity("ID=\"almalinux\"\nVERSION_ID=\"9.4\"\n", null));
    assertEquals(Optional.of(new OsRelease("centos-stream", 9, 0)),
        QuickInspection.identity("ID=\"centos\"\nVERSION_ID=\"9\"\n", null));
    assertEquals(Optional.of(new OsRelease("fedora", 40, 0)), QuickInspection.identity("ID=fedora\nVERSION_ID=40\n", null));
    assertEquals(Optional.empty(), QuickInspection.identity("ID=arch\nVERSION_ID=1\n", null), "unknown: inspect");
    assertEquals(Optional.empty(), QuickInspection.identity("ID=debian\n", "12.15"), "no VERSION_ID: inspect");
  }
}
