package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.redhat.et.libguestfs.GuestFS;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.guestfs.QuickInspection;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.recipe.RecipeReader;
import io.hypervisor.assembler.steps.SelinuxStep;
import io.hypervisor.assembler.steps.SwapStep;
import io.hypervisor.assembler.steps.Units;
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
 * The rpm family's disk layouts with identity files only (os-release, the release file and its
 * redhat-release and system-release links, {@code /bin -> usr/bin}, one x86-64 binary, no
 * debian_version): what inspection, mounting, growing and the OS check see of real images.
 * Rocky 9 GenericCloud-LVM (GPT: BIOS boot, ESP, xfs {@code /boot} with the XBOOTLDR type, the last
 * partition an LVM physical volume of VG {@code rocky} whose LV {@code root} is the xfs root), AlmaLinux
 * 9 GenericCloud (the same with a plain xfs root and an enabled firewalld, which the selinux-firewalld
 * step masks; libguestfs 1.48 calls AlmaLinux "redhat-based", the session must say almalinux 9.4),
 * CentOS Stream 9 GenericCloud (plain xfs root; libguestfs calls it "centos", the session must say
 * centos-stream 9),
 * Fedora Cloud 40 (ext4 {@code /boot}, a btrfs file system with subvolumes {@code root}, {@code home},
 * {@code var}, which the root's tree holds, and zram-generator's distribution configuration, which
 * makes a zram swap device at boot without any fstab line). Each grows to the disk size its recipe
 * plans, and fails the static verify untouched, naming what it
 * lacks (no rpm here: one "package database" failure, then "not installed"). The plain-xfs Rocky
 * layout, with packages,
 * is the rpm-family stand-in's ({@code RpmFamilyBuildIT}). Nothing here proves anything about packages.
 */
@Tag("integration")
class RpmLayoutIT {
  private static final long MIB = 1 << 20;

  @TempDir
  static Path tmp;

  private static Path rocky;
  private static Path alma;
  private static Path fedora;
  private static Path centos;

  /** The four disks made in one appliance (mkfs.xfs needs libguestfs-xfs in it). */
  @BeforeAll
  static void disks() {
    rocky = tmp.resolve("rocky-9-lvm.raw");
    alma = tmp.resolve("almalinux-9.raw");
    fedora = tmp.resolve("fedora-40.raw");
    centos = tmp.resolve("centos-stream-9.raw");
    SuiteImages.slot("rpm-family layout disks", () -> {
      for (Path d : List.of(rocky, alma, fedora, centos)) {
        Tools.run(List.of("truncate", "-s", "1G", d.toString())).ok();
      }
      GuestFS g = new GuestFS();
      try {
        if (Guests.accelerator() == io.hypervisor.assembler.model.Accelerator.TCG) {
          g.set_backend_setting("force_tcg", "1");
        }
        for (Path d : List.of(rocky, alma, fedora, centos)) {
          g.add_drive_opts(d.toString(), Map.of("format", "raw"));
        }
        Guests.launch(g);
        partitions(g, "/dev/sda");
        g.pvcreate("/dev/sda4");
        g.vgcreate("rocky", new String[] {"/dev/sda4"});
        g.lvcreate_free("root", "rocky", 100);
        g.mkfs("xfs", "/dev/sda3");
        g.mkfs("xfs", "/dev/rocky/root");
        g.mount("/dev/rocky/root", "/");
        mountBoot(g, "/dev/sda");
        identity(g, "rocky", "Rocky Linux", "9.4", "el9", "rocky-release", "Rocky Linux release 9.4 (Blue Onyx)");
        g.write("/etc/fstab", bytes("/dev/mapper/rocky-root / xfs defaults 0 0\n" + bootLines(g, "/dev/sda", "xfs")));
        g.umount_all();

        plainXfs(g, "/dev/sdb");
        identity(g, "almalinux", "AlmaLinux", "9.4", "el9", "almalinux-release", "AlmaLinux release 9.4 (Seafoam Ocelot)");
        // AlmaLinux's cloud image has firewalld, enabled (Rocky's and Fedora's have none)
        g.mkdir_p("/usr/lib/systemd/system");
        g.write("/usr/lib/systemd/system/firewalld.service", bytes("[Unit]\nDescription=firewalld (RpmLayoutIT)\n"
            + "[Install]\nWantedBy=multi-user.target\nAlias=dbus-org.fedoraproject.FirewallD1.service\n"));
        g.mkdir_p("/etc/systemd/system/multi-user.target.wants");
        g.ln_s("/usr/lib/systemd/system/firewalld.service", "/etc/systemd/system/multi-user.target.wants/firewalld.service");
        g.ln_s("/usr/lib/systemd/system/firewalld.service", "/etc/systemd/system/dbus-org.fedoraproject.FirewallD1.service");
        g.mkdir_p("/etc/selinux");
        g.write("/etc/selinux/config", bytes("SELINUX=enforcing\nSELINUXTYPE=targeted\n"));
        plainXfsFstab(g, "/dev/sdb");

        partitions(g, "/dev/sdc");
        g.mkfs("ext4", "/dev/sdc3");
        g.mkfs_btrfs(new String[] {"/dev/sdc4"}, Map.of("label", "fedora"));
        g.mount("/dev/sdc4", "/");
        for (String sub : List.of("root", "home", "var")) {
          g.btrfs_subvolume_create("/" + sub);
        }
        g.umount_all();
        g.mount_options("subvol=root", "/dev/sdc4", "/");
        mountBoot(g, "/dev/sdc");
        for (String sub : List.of("home", "var")) {
          g.mkdir_p("/" + sub);
          g.mount_options("subvol=" + sub, "/dev/sdc4", "/" + sub);
        }
        identity(g, "fedora", "Fedora Linux", "40", "f40", "fedora-release", "Fedora release 40 (Forty)");
        g.write("/usr/bin/dnf", bytes("#!/bin/sh\n")); // inspection says dnf for Fedora only when it is there
        // Fedora's zram-generator-defaults: a zram swap device at boot, no fstab line
        g.mkdir_p("/usr/lib/systemd/system-generators");
        g.write("/usr/lib/systemd/system-generators/zram-generator", bytes("#!/bin/sh\n"));
        g.chmod(0755, "/usr/lib/systemd/system-generators/zram-generator");
        g.write("/usr/lib/systemd/zram-generator.conf", bytes("[zram0]\nzram-size = min(ram, 8192)\n"));
        String uuid = g.vfs_uuid("/dev/sdc4");
        g.write("/etc/fstab", bytes("UUID=" + uuid + " / btrfs subvol=root,compress=zstd:1 0 0\n"
            + bootLines(g, "/dev/sdc", "ext4")
            + "UUID=" + uuid + " /home btrfs subvol=home,compress=zstd:1 0 0\n"
            + "UUID=" + uuid + " /var btrfs subvol=var,compress=zstd:1 0 0\n"));
        g.umount_all();

        plainXfs(g, "/dev/sdd");
        identity(g, "centos", "CentOS Stream", "9", "el9", "centos-release", "CentOS Stream release 9");
        plainXfsFstab(g, "/dev/sdd");
        g.sync();
      } finally {
        Guests.close(g);
      }
      return null;
    });
  }

  /** GPT: 1 MiB BIOS boot, 100 MiB ESP (vfat), 300 MiB /boot (XBOOTLDR type), the rest last (root type). */
  private static void partitions(GuestFS g, String dev) throws Exception {
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
  }

  /** EL9 GenericCloud's plain layout on {@code dev}: xfs /boot and xfs root, mounted. */
  private static void plainXfs(GuestFS g, String dev) throws Exception {
    partitions(g, dev);
    g.mkfs("xfs", dev + "3");
    g.mkfs("xfs", dev + "4");
    g.mount(dev + "4", "/");
    mountBoot(g, dev);
  }

  /** Its fstab (by UUID, as the images have it), then everything unmounted. */
  private static void plainXfsFstab(GuestFS g, String dev) throws Exception {
    g.write("/etc/fstab", bytes("UUID=" + g.vfs_uuid(dev + "4") + " / xfs defaults 0 0\n" + bootLines(g, dev, "xfs")));
    g.umount_all();
  }

  private static void mountBoot(GuestFS g, String dev) throws Exception {
    g.mkdir_p("/boot");
    g.mount(dev + "3", "/boot");
    g.mkdir_p("/boot/efi");
    g.mount(dev + "2", "/boot/efi");
  }

  private static String bootLines(GuestFS g, String dev, String bootFs) throws Exception {
    return "UUID=" + g.vfs_uuid(dev + "3") + " /boot " + bootFs + " defaults 0 0\n"
        + "UUID=" + g.vfs_uuid(dev + "2") + " /boot/efi vfat umask=0077,shortname=winnt 0 2\n";
  }

  private static void identity(GuestFS g, String id, String name, String version, String platform, String releaseFile,
      String release) throws Exception {
    g.mkdir_p("/etc");
    g.mkdir_p("/usr/bin");
    g.mkdir_p("/usr/lib");
    g.ln_s("usr/bin", "/bin");
    g.upload("/bin/ls", "/usr/bin/ls"); // inspection takes the architecture from a binary
    g.write("/usr/lib/os-release", bytes("NAME=\"" + name + "\"\nVERSION=\"" + version + "\"\nID=\"" + id
        + "\"\nVERSION_ID=\"" + version + "\"\nPLATFORM_ID=\"platform:" + platform + "\"\nPRETTY_NAME=\"" + name + " "
        + version + "\"\n"));
    g.ln_s("../usr/lib/os-release", "/etc/os-release");
    g.write("/etc/" + releaseFile, bytes(release + "\n"));
    g.ln_s(releaseFile, "/etc/redhat-release");
    g.ln_s(releaseFile, "/etc/system-release");
    g.write("/etc/hosts", bytes("127.0.0.1 localhost\n"));
    g.write("/etc/assemble-test-image", bytes(name + " " + version + " disk layout with identity files only (RpmLayoutIT)\n"));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  /** A worker recipe for the layout, naming {@code os}, with a 3 GiB disk. */
  private static Path recipe(Path disk, String os) throws Exception {
    return java.nio.file.Files.writeString(tmp.resolve(os + ".yaml"), """
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        name: layout-%s
        base: {path: %s, os: %s, arch: amd64}
        kubernetes: {version: 1.34.2, role: worker, cni: cilium}
        disk: {size: 3G}
        output: {path: %s}
        """.formatted(os, disk, os, tmp.resolve(os + "-out.qcow2")));
  }

  private static Plan plan(Path recipe) {
    return new Planner(KubernetesBom.load()).plan(new RecipeReader(Map.of(), List.of()).read(recipe).recipe(),
        List.of());
  }

  /** The disk a cold build installs its packages on before growing the rest of the way (as the layer's). */
  private static final long LAYER_DISK = 2L << 30;

  /**
   * The build's session on an overlay of the layout as large as the recipe's plan says, the root
   * grown as a cold build grows it at its launch: to the layer's disk.
   */
  private static GuestfsSession.Options build(Path disk, String os) throws Exception {
    Path overlay = tmp.resolve(os + ".qcow2");
    QemuImg.overlay(disk, "raw", overlay, plan(recipe(disk, os)).diskBytes());
    return GuestfsSession.Options.build(overlay, Guests.accelerator(), Duration.ofMinutes(10),
        java.nio.file.Files.createDirectories(tmp.resolve(os + "-work")), p -> Posix.mkfifo(p, 0600))
        .withCpus(Integer.parseInt(Guests.CPUS)).growingTo(LAYER_DISK);
  }

  /**
   * The root file system (statvfs, as df counts it) first holds the layer's disk, then, grown the
   * rest of the way as after a cold build's packages, the plan's, each but for the 401 MiB of
   * partitions before it and the file system's (and LVM's) own metadata; /boot is not grown.
   */
  private static void grownToThePlansDisk(GuestfsSession s, String os) throws Exception {
    long disk = plan(tmp.resolve(os + ".yaml")).diskBytes();
    assertEquals(3L << 30, disk);
    for (long size : new long[] {LAYER_DISK, disk}) {
      if (size == disk) {
        s.growRoot();
      }
      long root = s.fileSystemBytes("/");
      assertTrue(root > size - 401 * MIB - 160 * MIB && root < size - 401 * MIB, os + ": the root was grown to the "
          + (size / MIB) + " MiB disk: " + (root / MIB) + " MiB");
      assertTrue(s.fileSystemBytes("/boot") < 310 * MIB, os + ": /boot is its own file system, mounted, not grown");
    }
  }

  /**
   * Verify on the untouched layout (the recipe naming its OS): the OS check passes, and it fails
   * naming what a node needs and the base lacks, each check still run (no package database here).
   */
  private static Map<String, Check> untouchedVerify(GuestfsSession s, String os) throws Exception {
    Map<String, Check> byName = verify(s, tmp.resolve(os + ".yaml"));
    assertEquals(Check.Status.OK, byName.get("os").status(), byName.toString());
    for (String lacking : List.of("package database", "package kubelet", "package kubeadm", "containerd",
        "image store", "modules", "sysctl", "cloud-init datasources", "unit containerd.service")) {
      assertEquals(Check.Status.FAIL, java.util.Optional.ofNullable(byName.get(lacking)).map(Check::status).orElse(null),
          lacking + ": " + byName);
    }
    assertFalse(byName.containsKey("verify"), "every check ran: " + byName.get("verify"));
    assertTrue(byName.get("package database").detail().startsWith("cannot read the rpm database"), byName.toString());
    assertEquals("not installed", byName.get("package kubelet").detail());
    return byName;
  }

  /** The static verify's checks by name, for the recipe's plan, without a lock. */
  private static Map<String, Check> verify(GuestfsSession s, Path recipe) {
    Map<String, Check> byName = new java.util.TreeMap<>();
    new Verifier(s, plan(recipe), null).run(EventSink.NONE).forEach(c -> byName.put(c.name(), c));
    return byName;
  }

  @Test
  void rockyLvmIsInspectedMountedAndItsVolumeAndXfsRootGrowToTheDisk() {
    SuiteImages.slot("Rocky 9 LVM layout", () -> {
      java.util.List<String> said = new java.util.concurrent.CopyOnWriteArrayList<>();
      try (GuestfsSession s = GuestfsSession.open(build(rocky, "rocky-9"), new EventSink() {
        @Override
        public void emit(io.hypervisor.assembler.events.Event e) {
          said.add(e.toString());
        }
      })) {
        assertEquals("rocky", s.os().distro());
        assertEquals(9, s.os().major());
        assertEquals(4, s.os().minor());
        assertEquals("rpm", s.os().packageFormat());
        assertEquals("x86_64", s.os().arch());
        assertEquals(Map.of("/", "/dev/rocky/root", "/boot", "/dev/sda3", "/boot/efi", "/dev/sda2"), s.os().mountpoints());
        // the partition, the PV, the LV and the xfs root
        grownToThePlansDisk(s, "rocky-9");
        assertTrue(said.stream().anyMatch(e -> e.contains("grew")), said.toString());
        assertTrue(s.exists("/etc/assemble-test-image"));
        Assembler.checkOs(s.os(), "rocky-9", "dnf");
        AssemblerException e = assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "almalinux-9",
            "dnf"));
        assertTrue(e.getMessage().contains("the base image is rocky 9.4 (rpm), but the recipe says base.os: "
            + "almalinux-9"), e.getMessage());
        assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "debian-12", "apt"));
        untouchedVerify(s, "rocky-9");
      }
      return null;
    });
  }

  @Test
  void fedoraBtrfsSubvolumesAreMountedAndTheRootGrowsToTheDisk() {
    SuiteImages.slot("Fedora 40 btrfs layout", () -> {
      try (GuestfsSession s = GuestfsSession.open(build(fedora, "fedora-40"), EventSink.NONE)) {
        assertEquals("fedora", s.os().distro());
        assertEquals(40, s.os().major());
        assertEquals(Map.of("/", "btrfsvol:/dev/sda4/root", "/home", "btrfsvol:/dev/sda4/home",
            "/var", "btrfsvol:/dev/sda4/var", "/boot", "/dev/sda3", "/boot/efi", "/dev/sda2"), s.os().mountpoints());
        assertTrue(s.exists("/etc/assemble-test-image"));
        s.write("/var/written-on-var", bytes("x"), 0644);
        assertEquals(List.of(), s.list("/home"), "/home is its own (empty) subvolume");
        // the root's tree (manifest, step cache) holds its other subvolumes, not /boot's file system
        List<String> listed = s.listRoot();
        assertTrue(listed.contains("var/written-on-var") && listed.contains("etc/os-release"), listed.toString());
        assertFalse(listed.stream().anyMatch(p -> p.startsWith("boot/") || p.startsWith("boot/efi/")), listed.toString());
        java.util.Set<String> tarred = new java.util.HashSet<>();
        s.tarOutRoot(in -> { // not closed here: the session drains the stream after the sink
          var tar = new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(in);
          for (var e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
            tarred.add(e.getName().replaceFirst("^\\./", ""));
          }
        });
        assertTrue(tarred.contains("var/written-on-var"), tarred.toString());
        grownToThePlansDisk(s, "fedora-40"); // the btrfs file system; /boot is ext4
        Assembler.checkOs(s.os(), "fedora-40", "dnf");
        assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "fedora-41", "dnf"));
        assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "rocky-9", "dnf"));
        // zram-generator's defaults make a swap device at boot with no fstab line: verify says so,
        // and the swap step's empty /etc configuration turns it off
        Map<String, Check> before = untouchedVerify(s, "fedora-40");
        assertEquals(Check.Status.FAIL, before.get("swap").status(), before.toString());
        assertEquals("zram-generator would make a zram swap device at boot (no /etc/systemd/zram-generator.conf)",
            before.get("swap").detail());
        assertEquals("swap.target masked, zram-generator disabled",
            new SwapStep(new SwapStep.Options(true)).apply(s, EventSink.NONE));
        assertEquals(0, s.read("/etc/systemd/zram-generator.conf").length);
        Map<String, Check> after = verify(s, tmp.resolve("fedora-40.yaml"));
        assertEquals(Check.Status.OK, after.get("swap").status(), after.toString());
        assertEquals("no swap in /etc/fstab, zram-generator off", after.get("swap").detail());
      }
      return null;
    });
  }

  /**
   * The build's quick reading against libguestfs's inspection on the four layouts at once: the
   * plain xfs ones (AlmaLinux and CentOS Stream, found by fstab UUIDs) read the same; an LVM or
   * btrfs layout is left to inspection.
   */
  @Test
  void theQuickInspectionReadsThePlainLayoutAndLeavesLvmAndBtrfsToLibguestfs() {
    SuiteImages.slot("rpm-family layouts inspected", () -> {
      GuestFS g = new GuestFS();
      try {
        if (Guests.accelerator() == io.hypervisor.assembler.model.Accelerator.TCG) {
          g.set_backend_setting("force_tcg", "1");
        }
        for (Path d : List.of(rocky, alma, fedora, centos)) {
          g.add_drive_opts(d.toString(), Map.of("format", "raw", "readonly", Boolean.TRUE));
        }
        Guests.launch(g);
        List<String> roots = List.of(g.inspect_os()); // ~20 s a disk under TCG: once
        String almaRoot = roots.stream().filter(r -> r.startsWith("/dev/sdb")).findFirst().orElseThrow();
        assertEquals(GuestfsSession.inspected(g, almaRoot), QuickInspection.of(g, "/dev/sdb").orElseThrow());
        String centosRoot = roots.stream().filter(r -> r.startsWith("/dev/sdd")).findFirst().orElseThrow();
        assertEquals("centos", g.inspect_get_distro(centosRoot), "libguestfs 1.48's name for CentOS Stream");
        assertEquals(GuestfsSession.inspected(g, centosRoot), QuickInspection.of(g, "/dev/sdd").orElseThrow());
        assertEquals(java.util.Optional.empty(), QuickInspection.of(g, "/dev/sda"), "LVM: inspection's");
        assertEquals(java.util.Optional.empty(), QuickInspection.of(g, "/dev/sdc"), "btrfs: inspection's");
      } finally {
        Guests.close(g);
      }
      return null;
    });
  }

  @Test
  void almaLinuxIsAlmaLinuxNotRedhatBased() {
    SuiteImages.slot("AlmaLinux 9 layout", () -> {
      try (GuestfsSession s = GuestfsSession.open(build(alma, "almalinux-9"), EventSink.NONE)) {
        assertEquals("almalinux", s.os().distro(), "os-release's ID, where libguestfs says redhat-based");
        assertEquals(9, s.os().major());
        assertEquals(4, s.os().minor());
        Assembler.checkOs(s.os(), "almalinux-9", "dnf");
        Assembler.checkOs(s.os(), "almalinux-9.4", "dnf");
        grownToThePlansDisk(s, "almalinux-9");
        // firewalld present and enabled: the step disables and masks it, and verify's reading agrees
        assertEquals(Units.State.ENABLED, Units.state(s, "firewalld.service"));
        Map<String, Check> before = untouchedVerify(s, "almalinux-9");
        assertEquals(Check.Status.FAIL, before.get("firewalld").status(), before.toString());
        assertEquals(Check.Status.FAIL, before.get("selinux").status(), before.toString());
        assertEquals("SELINUX=permissive, firewalld disabled and masked",
            new SelinuxStep(new SelinuxStep.Options("permissive")).apply(s, EventSink.NONE));
        assertEquals(Units.State.MASKED, Units.state(s, "firewalld.service"));
        assertFalse(s.exists("/etc/systemd/system/multi-user.target.wants/firewalld.service"));
        assertFalse(s.exists("/etc/systemd/system/dbus-org.fedoraproject.FirewallD1.service"));
        Map<String, Check> after = verify(s, tmp.resolve("almalinux-9.yaml"));
        assertEquals(Check.Status.OK, after.get("firewalld").status(), after.toString());
        assertEquals(Check.Status.OK, after.get("selinux").status(), after.toString());
        assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), "rocky-9", "dnf"));
      }
      return null;
    });
  }

  @Test
  void centosStreamIsCentosStreamNotCentos() {
    SuiteImages.slot("CentOS Stream 9 layout", () -> {
      try (GuestfsSession s = GuestfsSession.open(build(centos, "centos-stream-9"), EventSink.NONE)) {
        assertEquals("centos-stream", s.os().distro(), "os-release's ID centos, where libguestfs says centos");
        assertEquals(9, s.os().major());
        assertEquals("rpm", s.os().packageFormat());
        assertEquals(Map.of("/", "/dev/sda4", "/boot", "/dev/sda3", "/boot/efi", "/dev/sda2"), s.os().mountpoints());
        grownToThePlansDisk(s, "centos-stream-9");
        Assembler.checkOs(s.os(), "centos-stream-9", "dnf");
        for (String other : List.of("rocky-9", "almalinux-9", "rhel-9", "centos-stream-10")) {
          AssemblerException e = assertThrows(AssemblerException.class, () -> Assembler.checkOs(s.os(), other, "dnf"));
          assertTrue(e.getMessage().contains("the base image is centos-stream 9"), e.getMessage());
        }
        Map<String, Check> before = untouchedVerify(s, "centos-stream-9");
        assertEquals(Check.Status.OK, before.get("swap").status(), "no zram-generator here: " + before);
      }
      return null;
    });
  }
}
