package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.guestfs.ImageSession.Partition;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.tree.Ext4Rebuild;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A layer's ext4 root grown on the host: the GPT as sgdisk sees it afterwards, and the superblock
 * from the metadata copy equal to the one resize2fs gives the whole file system grown in place
 * (a copy of the partition, the tools as the appliance runs them), the disk's own file system
 * left as it was.
 */
class HostGrowTest {
  @TempDir
  Path tmp;

  private static final long MIB = 1 << 20;

  @Test
  void theRootGrowsToTheDiskAsResize2fsWouldGrowIt() throws Exception {
    Path disk = tmp.resolve("layer.raw");
    Tools.run(List.of("truncate", "-s", "96M", disk.toString())).ok();
    Tools.run(List.of("sgdisk", "-n", "15:2048:+8M", "-t", "15:ef00", "-n", "1:0:0", "-t", "1:8304",
        disk.toString())).ok();
    Partition made = HostPartitions.read(disk).orElseThrow().stream().filter(p -> p.number() == 1).findFirst()
        .orElseThrow();
    Tools.run(List.of("mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "offset=" + made.start(), disk.toString(),
        (made.size() / 1024) + "k")).ok();
    Partition root = HostPartitions.read(disk).orElseThrow().stream().filter(p -> p.number() == 1).findFirst()
        .orElseThrow();
    assertEquals("ext4", root.fsType());
    Tools.run(List.of("sh", "-c", "echo files > " + tmp.resolve("f") + " && debugfs -w -R 'write " + tmp.resolve("f")
        + " f' '" + disk + "?offset=" + root.start() + "'")).ok();
    byte[] rootBefore = range(disk, root.start(), root.size());
    Map<String, String> before = Ext4Rebuild.superblock(disk, root.start());

    HostGrow.Grown grown = HostGrow.grow(disk, root, 160 * MIB, tmp).orElseThrow();

    assertEquals(160 * MIB, Files.size(disk));
    assertTrue(Tools.run(List.of("sgdisk", "-v", disk.toString())).ok().out().contains("No problems found"));
    Partition after = HostPartitions.read(disk).orElseThrow().stream().filter(p -> p.number() == 1).findFirst()
        .orElseThrow();
    assertEquals(after, grown.root());
    assertEquals(root.start(), after.start());
    assertTrue(after.size() > root.size() + 60 * MIB, after.toString());
    assertArrayEquals(rootBefore, range(disk, root.start(), root.size()), "the disk's own file system untouched");
    assertEquals(before.get("Block count"), Ext4Rebuild.superblock(disk, root.start()).get("Block count"));

    // the oracle: the whole file system copied into a file of the grown partition's size, grown in place
    Path copy = tmp.resolve("root.img");
    Files.write(copy, rootBefore);
    Tools.run(List.of("truncate", "-s", Long.toString(after.size()), copy.toString())).ok();
    Tools.run(List.of("e2fsck", "-f", "-p", copy.toString())).ok();
    Tools.run(List.of("resize2fs", copy.toString())).ok();
    Map<String, String> oracle = Ext4Rebuild.superblock(copy, 0);
    assertEquals(Long.toString(after.size() / 4096), oracle.get("Block count"));
    for (String field : List.of("Block count", "Inode count", "Reserved block count", "Free blocks", "Free inodes",
        "Filesystem features", "Blocks per group", "Inodes per group", "Reserved GDT blocks", "Filesystem UUID")) {
      assertEquals(oracle.get(field), grown.superblock().get(field), field);
    }
    assertEquals(Ext4Rebuild.Params.of(oracle), Ext4Rebuild.Params.of(grown.superblock()));
    assertTrue(Files.notExists(tmp.resolve("root-metadata.img")), "the metadata copy is gone");

    // a disk already as large as the table: nothing grows, the superblock is the file system's own
    HostGrow.Grown again = HostGrow.grow(disk, after, 160 * MIB, tmp).orElseThrow();
    assertEquals(after, again.root());
    assertEquals(before.get("Block count"), again.superblock().get("Block count"));
  }

  private static byte[] range(Path file, long start, long size) throws Exception {
    try (var ch = java.nio.channels.FileChannel.open(file)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate((int) size);
      while (b.hasRemaining() && ch.read(b, start + b.position()) >= 0) {
        // read on
      }
      return b.array();
    }
  }
}
