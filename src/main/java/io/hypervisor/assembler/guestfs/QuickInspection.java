package io.hypervisor.assembler.guestfs;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.LibGuestFSException;
import io.hypervisor.assembler.guestfs.ImageSession.OsInfo;
import io.hypervisor.assembler.model.Distro;
import io.hypervisor.assembler.model.OsFamily;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The operating system of a plain cloud-image layout, found by reading what libguestfs's
 * inspection reads, without the rest of it: the first disk's partitions (blkid), the one ext2/3/4
 * or xfs file system holding {@code /etc/fstab} and {@code /etc/os-release}, its fstab resolved
 * against the partitions' UUIDs and labels, and one binary's architecture. Inspection costs ~6.4 s
 * under TCG (it runs Augeas and looks at every file system for every kind of OS); this ~1.5 s.
 * Anything this does not read plainly (LVM, btrfs, RAID, LUKS, another kind of file system, a
 * second root, an fstab naming devices by kernel name or with escapes, a distribution it cannot
 * name) gives no answer, and the caller inspects. {@code BaseImageIT} and {@code RpmLayoutIT} hold
 * both answers to each other.
 */
public final class QuickInspection {
  private QuickInspection() {}

  /** One partition of the disk as blkid reports it. */
  record BlockId(String device, String type, String uuid, String label, String partUuid, String partLabel) {}

  /** The binaries inspection takes the architecture from, in its order. */
  private static final List<String> ARCH_BINARIES = List.of("/bin/bash", "/bin/ls", "/bin/echo", "/bin/rm", "/bin/sh");

  /**
   * The first disk's operating system, or empty when its layout is not a plain one. Leaves nothing
   * mounted.
   */
  public static Optional<OsInfo> of(GuestFS g) throws LibGuestFSException {
    return of(g, new java.util.HashMap<>());
  }

  /** The same, putting each partition's file system type ("" for none) into {@code types} on the way. */
  public static Optional<OsInfo> of(GuestFS g, Map<String, String> types) throws LibGuestFSException {
    String[] devices = g.list_devices();
    return devices.length == 0 ? Optional.empty() : of(g, devices[0], types);
  }

  /** The same for one disk ({@code /dev/sdb}) of several: its labels and UUIDs resolve among its own partitions. */
  public static Optional<OsInfo> of(GuestFS g, String disk) throws LibGuestFSException {
    return of(g, disk, new java.util.HashMap<>());
  }

  /**
   * The same for one disk, with the partitions' types; a handle's first drive is {@code /dev/sda}
   * in libguestfs's names whatever the guest calls it, so a caller that added it needs no
   * list_devices (~0.2 s under TCG: it waits for udev).
   */
  public static Optional<OsInfo> of(GuestFS g, String disk, Map<String, String> types)
      throws LibGuestFSException {
    List<BlockId> parts = new ArrayList<>();
    for (String p : g.list_partitions()) {
      if (p.startsWith(disk) && p.substring(disk.length()).matches("\\d+")) {
        BlockId b = blkid(g, p);
        parts.add(b);
        types.put(p, b.type());
      }
    }
    if (parts.isEmpty()) {
      return Optional.empty();
    }
    List<BlockId> candidates = new ArrayList<>();
    for (BlockId b : parts) {
      switch (b.type()) {
        case "ext2", "ext3", "ext4", "xfs" -> candidates.add(b);
        case "", "vfat", "swap" -> { }
        default -> {
          return Optional.empty(); // LVM2_member, btrfs, linux_raid_member, crypto_LUKS, ...: inspection's job
        }
      }
    }
    String root = null;
    try {
      String mounted = null;
      for (BlockId b : candidates) {
        g.mount_ro(b.device(), "/");
        mounted = b.device();
        boolean isRoot = g.is_file("/etc/fstab", Map.of("followsymlinks", Boolean.TRUE))
            && g.is_file("/etc/os-release", Map.of("followsymlinks", Boolean.TRUE));
        if (isRoot) {
          if (root != null) {
            return Optional.empty(); // two roots: inspection says which, or refuses
          }
          root = b.device();
        }
        if (candidates.size() > 1) {
          g.umount_all();
          mounted = null;
        }
      }
      if (root == null) {
        return Optional.empty();
      }
      if (!root.equals(mounted)) { // the only candidate stays mounted (~0.25 s under TCG for the pair)
        g.mount_ro(root, "/");
      }
      String osRelease = text(g, "/etc/os-release");
      String fstab = text(g, "/etc/fstab");
      String debianVersion = g.is_file("/etc/debian_version", Map.of("followsymlinks", Boolean.TRUE))
          ? text(g, "/etc/debian_version") : null;
      String arch = null;
      for (String bin : ARCH_BINARIES) {
        if (g.is_file(bin, Map.of("followsymlinks", Boolean.TRUE))) {
          arch = g.file_architecture(bin);
          break;
        }
      }
      if (arch == null) {
        return Optional.empty();
      }
      Optional<Map<String, String>> mps = mountpoints(fstab, parts, root);
      Optional<OsRelease> id = identity(osRelease, debianVersion);
      if (mps.isEmpty() || id.isEmpty()) {
        return Optional.empty();
      }
      OsRelease os = id.get();
      String format = new Distro(os.distro(), Integer.toString(os.major())).family() == OsFamily.APT ? "deb" : "rpm";
      return Optional.of(new OsInfo("linux", os.distro(), os.major(), os.minor(), arch, format, root, mps.get()));
    } finally {
      g.umount_all();
    }
  }

  /**
   * A small text file in one pread (~10 ms) where it comes back whole, else read_file (a download,
   * ~200 ms under TCG); pread and open resolve links inside the mounted image as realpath does.
   */
  private static String text(GuestFS g, String path) throws LibGuestFSException {
    byte[] b = GuestfsSession.readText(g, path);
    return b != null ? new String(b, java.nio.charset.StandardCharsets.UTF_8) : g.read_file(g.realpath(path));
  }

  private static BlockId blkid(GuestFS g, String device) throws LibGuestFSException {
    Map<String, String> tags;
    try {
      tags = g.blkid(device);
    } catch (LibGuestFSException e) {
      tags = Map.of(); // blkid finds nothing on a BIOS boot partition on some versions
    }
    return new BlockId(device, tags.getOrDefault("TYPE", ""), tags.get("UUID"), tags.get("LABEL"),
        tags.get("PART_ENTRY_UUID"), tags.get("PART_ENTRY_NAME"));
  }

  /**
   * The distribution and version from os-release's {@code ID} and {@code VERSION_ID}, with
   * Debian's minor version from {@code /etc/debian_version} (os-release says only "12"), as
   * inspection reads it; empty for a distribution the assembler does not know.
   */
  static Optional<OsRelease> identity(String osRelease, String debianVersion) {
    Map<String, String> f = Distro.osReleaseFields(osRelease);
    String id = f.get("ID");
    String version = f.get("VERSION_ID");
    if (id == null || version == null || !id.matches("[a-z0-9._-]{1,64}") || !version.matches("\\d+(\\.\\d+)*")) {
      return Optional.empty();
    }
    Distro d;
    try {
      d = new Distro(id, version);
      d.family();
    } catch (RuntimeException e) {
      return Optional.empty();
    }
    int major = d.major();
    int minor = 0;
    if (d.id().equals("debian") && debianVersion != null) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)\\.(\\d+)\\s*").matcher(debianVersion);
      if (m.matches() && Integer.parseInt(m.group(1)) == major) {
        minor = Integer.parseInt(m.group(2));
      }
    }
    return Optional.of(OsRelease.of(d.id(), major, minor, osRelease));
  }

  /**
   * What inspection's fstab reading gives as mount points, for the entries it keeps: a spec by
   * UUID=, LABEL=, PARTUUID= or PARTLABEL= that one partition answers (none: the entry is skipped,
   * as inspection skips it), {@code /dev/root}; pseudo file systems and {@code /dev}, {@code /proc},
   * {@code /sys}, {@code /selinux}, {@code /media} mount points skipped. Empty (inspect instead)
   * for a kernel device name (inspection maps those between disk kinds), btrfs, escapes or quotes,
   * a mount point twice, or a root entry that is not {@code root}.
   */
  static Optional<Map<String, String>> mountpoints(String fstab, List<BlockId> parts, String root) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String raw : fstab.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.indexOf('\\') >= 0 || line.indexOf('"') >= 0 || line.indexOf('\'') >= 0) {
        return Optional.empty();
      }
      String[] f = line.split("[ \t]+");
      if (f.length < 3) {
        continue; // inspection's Augeas lens keeps no entry without a type
      }
      String spec = f[0];
      if (spec.matches("/dev/(fd|cd)\\d.*") || spec.equals("/dev/floppy") || spec.equals("/dev/cdrom")
          || spec.startsWith("/dev/iso9660/")) {
        continue;
      }
      String mp = canonical(f[1]);
      if (mp == null) {
        return Optional.empty();
      }
      if (!mp.startsWith("/") || ignored(mp)) {
        continue;
      }
      String device;
      if (spec.startsWith("UUID=")) {
        device = unique(parts, b -> b.uuid() != null && b.uuid().equalsIgnoreCase(spec.substring(5)));
      } else if (spec.startsWith("LABEL=")) {
        device = unique(parts, b -> spec.substring(6).equals(b.label()));
      } else if (spec.startsWith("PARTUUID=")) {
        device = unique(parts, b -> b.partUuid() != null && b.partUuid().equalsIgnoreCase(spec.substring(9)));
      } else if (spec.startsWith("PARTLABEL=")) {
        device = unique(parts, b -> spec.substring(10).equals(b.partLabel()));
      } else if (spec.equals("/dev/root")) {
        device = root;
      } else if (spec.startsWith("/dev/")) {
        return Optional.empty();
      } else {
        continue; // tmpfs, none, proc: pseudo file systems
      }
      if (device == null) {
        continue;
      }
      if (device.equals("?") || f[2].equals("btrfs") || out.containsKey(mp)) {
        return Optional.empty();
      }
      out.put(mp, device);
    }
    if (!root.equals(out.get("/"))) {
      return Optional.empty();
    }
    return Optional.of(new TreeMap<>(out));
  }

  /** The one partition {@code test} accepts, null for none, "?" for several. */
  private static String unique(List<BlockId> parts, java.util.function.Predicate<BlockId> test) {
    List<String> found = parts.stream().filter(test).map(BlockId::device).toList();
    return found.isEmpty() ? null : found.size() == 1 ? found.get(0) : "?";
  }

  /** "///usr//local//" -> "/usr/local"; null for "." or ".." components, which inspection would resolve. */
  private static String canonical(String mp) {
    if (!mp.startsWith("/")) {
      return mp; // "none", "swap": not a path, skipped by the caller
    }
    StringBuilder b = new StringBuilder();
    for (String part : mp.split("/")) {
      if (part.isEmpty()) {
        continue;
      }
      if (part.equals(".") || part.equals("..")) {
        return null;
      }
      b.append('/').append(part);
    }
    return b.length() == 0 ? "/" : b.toString();
  }

  private static boolean ignored(String mp) {
    for (String p : List.of("/dev", "/proc", "/selinux", "/sys")) {
      if (mp.equals(p) || mp.startsWith(p + "/")) {
        return true;
      }
    }
    return mp.startsWith("/media/");
  }
}
