package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.events.Event;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.steps.TreeStep;
import io.hypervisor.assembler.sys.Posix;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.tree.RootTree;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The build's tree read of an ext4 root the host reader refuses (here: a POSIX ACL, which GNU tar
 * renders as text) falls back to the appliance's tar_out, says so, and gets the tree with the ACL,
 * so the build then makes the image a tree-only reproduction. The disk is a small MBR disk whose
 * one partition mke2fs -d filled; the appliance mounts it as the known root (no inspection).
 */
@Tag("integration")
class HostTreeIT {
  @TempDir
  Path tmp;

  @Test
  void aRootTheHostReaderRefusesIsReadByTheApplianceAndClampedInPlaceWhenItIsTheOutput() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("root/etc"));
    Files.writeString(src.resolve("hostname"), "node\n");
    Tools.run(List.of("setfacl", "-m", "u:1234:r", src.resolve("hostname").toString())).ok();
    withHostTools(tmp.resolve("root"), "find", "touch"); // the clamp runs them in the image
    Path raw = tmp.resolve("disk.raw");
    Tools.run(List.of("truncate", "-s", "128M", raw.toString())).ok();
    Tools.run(List.of("sh", "-c", "echo 'label: dos\nstart=2048, type=83' | sfdisk -q " + raw)).ok();
    long start = 1L << 20;
    long size = (128L << 20) - start;
    Tools.run(List.of("mke2fs", "-q", "-F", "-t", "ext4", "-E", "offset=" + start, "-d",
        tmp.resolve("root").toString(), raw.toString(), (size >> 10) + "k")).ok();
    Path disk = tmp.resolve("disk.qcow2");
    Tools.run(List.of("qemu-img", "convert", "-O", "qcow2", raw.toString(), disk.toString())).ok();
    assertEquals(List.of(new ImageSession.Partition("/dev/sda1", 1, start, size, "ext4")),
        HostPartitions.read(raw).orElseThrow(), "an MBR's primary partition, read on the host");

    Path work = Files.createDirectories(tmp.resolve("work"));
    GuestfsSession.Options opening = GuestfsSession.Options.build(disk, Guests.accelerator(), Duration.ofMinutes(10),
        work, p -> Posix.mkfifo(p, 0600)).withCpus(Integer.parseInt(Guests.CPUS))
        .withKnownOs(new ImageSession.OsInfo("linux", "debian", 12, 0, "x86_64", "deb", "/dev/sda1",
            Map.of("/", "/dev/sda1")));
    List<String> warnings = new ArrayList<>();
    EventSink events = e -> {
      if (e instanceof Event.Log l && l.level() == Event.Level.WARN) {
        warnings.add(l.message());
      }
    };
    try (RootTree tree = SuiteImages.slot("host tree fallback", () -> Assembler.hostTree(EPOCH, disk,
        new ImageSession.Partition("/dev/sda1", 1, start, size, "ext4"), work, opening, events))) {
      String said = warnings.toString();
      assertTrue(said.contains("read in an appliance instead") && said.contains("POSIX ACL"), said);
      assertEquals(List.of("etc/hostname"), tree.aclPaths());
      assertTrue(new String(tree.manifest(), java.nio.charset.StandardCharsets.UTF_8).contains("./etc/hostname "));
    }
    // An ACL makes the output this disk, not a rebuild: the clamp the tree step left to the
    // rebuild runs in the image after all, so its files carry the tree's (clamped) times.
    assertTrue(mtime(disk, "/etc/hostname", start) > EPOCH, "made now, after the epoch");
    // The build had left its root to grow on the host with the rebuild: the same launch grows it.
    Tools.run(List.of("qemu-img", "resize", "-q", disk.toString(), "256M")).ok();
    TreeStep step = new TreeStep(new TreeStep.Options(EPOCH, work));
    step.rebuiltFromTree();
    SuiteImages.slot("late clamp", () -> {
      Assembler.late(disk, opening.growingTo(0), step, EventSink.NONE);
      return null;
    });
    assertEquals(EPOCH, mtime(disk, "/etc/hostname", start));
    assertEquals(EPOCH, mtime(disk, "/etc", start));
    assertFalse(step.unclamped());
    Path grown = tmp.resolve("grown.raw");
    Tools.run(List.of("qemu-img", "convert", "-O", "raw", disk.toString(), grown.toString())).ok();
    ImageSession.Partition root = HostPartitions.read(grown).orElseThrow().get(0);
    assertEquals(start, root.start());
    assertTrue(root.size() > (250L << 20), "the partition reaches the resized disk's end: " + root);
    Map<String, String> sb = io.hypervisor.assembler.tree.Ext4Rebuild.superblock(grown, start);
    assertTrue(Long.parseLong(sb.get("Block count")) * Long.parseLong(sb.get("Block size")) > (250L << 20),
        "its file system grew with it: " + sb);
  }

  private static final long EPOCH = 1_700_000_000L;

  /** The host's binaries with the libraries ldd names (and the directories libguestfs mounts on), at their paths. */
  private static void withHostTools(Path root, String... tools) throws Exception {
    for (String d : List.of("dev", "proc", "sys", "tmp")) {
      Files.createDirectories(root.resolve(d));
    }
    for (String tool : tools) {
      String bin = Tools.run(List.of("sh", "-c", "command -v " + tool)).ok().out().strip();
      List<String> files = new ArrayList<>(List.of(bin));
      for (String line : Tools.run(List.of("ldd", bin)).ok().out().split("\n")) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(/\\S+)").matcher(line);
        while (m.find()) {
          files.add(m.group(1));
        }
      }
      for (String f : files) {
        Path to = root.resolve(f.substring(1));
        Files.createDirectories(to.getParent());
        Files.copy(Path.of(f).toRealPath(), to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  /** A path's mtime in the disk's ext4 (debugfs on a raw copy, at the partition's offset). */
  private long mtime(Path disk, String path, long start) throws Exception {
    Path raw = tmp.resolve("check.raw");
    Tools.run(List.of("qemu-img", "convert", "-O", "raw", disk.toString(), raw.toString())).ok();
    try {
      String out = Tools.run(List.of("debugfs", "-R", "stat " + path, raw + "?offset=" + start)).ok().out();
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("mtime: ?0x([0-9a-f]+)").matcher(out);
      assertTrue(m.find(), out);
      return Long.parseLong(m.group(1), 16);
    } finally {
      Files.delete(raw);
    }
  }
}
