package io.hypervisor.assembler.guestfs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which mounts are the root's own file system, as libguestfs 1.48 names the devices of each layout. */
class OsInfoTest {
  private static ImageSession.OsInfo os(Map<String, String> mounts) {
    return new ImageSession.OsInfo("linux", "x", 1, 0, "x86_64", "rpm", mounts.get("/"), mounts);
  }

  @Test
  void aBtrfsRootsOtherSubvolumesAreTheRootsContent() {
    // Fedora Cloud: root, home and var subvolumes of one btrfs; ext4 /boot and the ESP are not
    assertEquals(List.of("/", "/home", "/var"), os(Map.of("/", "btrfsvol:/dev/sda4/root", "/home",
        "btrfsvol:/dev/sda4/home", "/var", "btrfsvol:/dev/sda4/var", "/boot", "/dev/sda3", "/boot/efi", "/dev/sda2"))
        .rootMounts());
    // a btrfs root mounted whole, with a subvolume of it on /home
    assertEquals(List.of("/", "/home"), os(Map.of("/", "/dev/sda2", "/home", "btrfsvol:/dev/sda2/home")).rootMounts());
    // another btrfs file system, and a device whose name only starts like the root's
    assertEquals(List.of("/"), os(Map.of("/", "btrfsvol:/dev/sda4/root", "/srv", "btrfsvol:/dev/sdb1/srv",
        "/data", "btrfsvol:/dev/sda41/data")).rootMounts());
    assertEquals(List.of("/", "/var"), os(Map.of("/", "btrfsvol:/dev/mapper/luks-1/root", "/var",
        "btrfsvol:/dev/mapper/luks-1/var")).rootMounts());
  }

  @Test
  void otherRootsAreOneMount() {
    assertEquals(List.of("/"), os(Map.of("/", "/dev/sda4", "/boot", "/dev/sda3", "/boot/efi", "/dev/sda2")).rootMounts());
    assertEquals(List.of("/"), os(Map.of("/", "/dev/rocky/root", "/boot", "/dev/sda3")).rootMounts());
    assertEquals(List.of("/"), os(Map.of("/", "/dev/sda1", "/boot/efi", "/dev/sda15")).rootMounts());
  }
}
