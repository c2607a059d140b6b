package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.events.Event;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.sys.Posix;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.Tools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A build's session on the Debian 12 base, against the tools its shortcuts replace: the root's
 * partition grown by writing the GPT (not sgdisk and parted) is what parted and sgdisk -v read on
 * the closed disk, with the file system grown into it (e2fsck clean, the size df would show); the
 * partition list from that table and the quick identification's types is parted's and blkid's;
 * the package configuration copied out in one tar per directory is what one call per file reads.
 */
@Tag("integration")
class BuildSessionIT {
  private static final long DISK = 6L << 30;

  @TempDir
  Path tmp;

  @Test
  void theGrownTableThePartitionListAndTheConfigurationCopyAgreeWithTheTools() throws Exception {
    Path base = Fixtures.part("base-image").resolve("debian-12-generic.qcow2");
    Path disk = tmp.resolve("disk.qcow2");
    QemuImg.overlay(base, "qcow2", disk, DISK);
    Path work = java.nio.file.Files.createDirectories(tmp.resolve("work"));
    GuestfsSession.Options opening = GuestfsSession.Options.build(disk, Guests.accelerator(), Duration.ofMinutes(10),
        work, p -> Posix.mkfifo(p, 0600)).withCpus(Integer.parseInt(Guests.CPUS));
    List<String> said = new ArrayList<>();
    EventSink events = e -> {
      if (e instanceof Event.Log l) {
        said.add(l.message());
      }
    };
    Plan plan = new io.hypervisor.assembler.plan.Planner(io.hypervisor.assembler.plan.KubernetesBom.load()).plan(
        new io.hypervisor.assembler.recipe.RecipeReader(Map.of(), List.of()).readText("""
            apiVersion: assemble.hypervisor.io/v1
            kind: NodeImage
            base: {path: base.qcow2, os: debian-12}
            kubernetes: {version: "1.34.2", role: worker}
            """, "test.yaml").recipe(), List.of());
    Map<String, String> viaTars = new LinkedHashMap<>();
    Map<String, String> viaCalls = new LinkedHashMap<>();
    List<ImageSession.Partition> listed = SuiteImages.slot("build session", () -> {
      try (GuestfsSession image = GuestfsSession.open(opening, events)) {
        Locker.walkConfiguration(TarredFiles.of(image, Locker.configurationDirs(plan)), plan,
            (p, b) -> viaTars.put(p, hex(b)), (d, n) -> viaTars.put(d + "/", n.toString()));
        Locker.walkConfiguration(new SessionFiles(image), plan,
            (p, b) -> viaCalls.put(p, hex(b)), (d, n) -> viaCalls.put(d + "/", n.toString()));
        return image.partitions();
      }
    });
    assertTrue(said.contains("grew /dev/sda1 from 2943 MiB to 6015 MiB"), said.toString());
    assertTrue(viaCalls.keySet().stream().anyMatch(k -> k.startsWith("/usr/share/keyrings/")),
        viaCalls.keySet().toString());
    assertEquals(viaCalls, viaTars);

    Path raw = tmp.resolve("disk.raw");
    QemuImg.toRaw(disk, raw);
    String verify = Tools.run(List.of("sgdisk", "-v", raw.toString())).ok().out();
    assertTrue(verify.contains("No problems found"), verify);
    // parted's machine-readable list: number:start:end:size:fs:name:flags, in bytes
    List<String> parted = Tools.run(List.of("parted", "-s", "-m", raw.toString(), "unit", "B", "print")).ok().out()
        .lines().skip(2).map(l -> {
          String[] f = l.split(":");
          return "/dev/sda" + f[0] + " " + f[1].replace("B", "") + " " + f[3].replace("B", "");
        }).toList();
    assertEquals(parted, listed.stream().map(p -> p.device() + " " + p.start() + " " + p.size()).toList());
    assertEquals(List.of("", "vfat", "ext4"), listed.stream().map(ImageSession.Partition::fsType).toList(),
        "BIOS boot (nothing), ESP, root: blkid's types");
    ImageSession.Partition root = listed.get(2);
    Tools.run(List.of("e2fsck", "-f", "-n", raw + "?offset=" + root.start())).ok();
    Map<String, String> sb = io.hypervisor.assembler.tree.Ext4Rebuild.superblock(raw, root.start());
    assertEquals(root.size() / 4096, Long.parseLong(sb.get("Block count")), "the file system fills its partition");
  }

  private static String hex(byte[] b) {
    return java.util.HexFormat.of().formatHex(b);
  }
}
