package io.hypervisor.assembler.guestfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Tools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The grown table against the tools the appliance ran for it: sgdisk -e (backup table to the new
 * end) then parted resizepart, on a copy of the same disk, leave the very same bytes on the whole
 * disk; sgdisk -v finds no problem. Two layouts: sgdisk's own (first usable sector 34) and
 * Debian's genericcloud one made by sfdisk (first usable sector 2048).
 */
class GptTest {
  private static final long MIB = 1 << 20;

  @TempDir
  Path tmp;

  @Test
  void growingTheLastPartitionOfAnSgdiskTableWritesWhatSgdiskAndPartedWrite() throws Exception {
    Path disk = tmp.resolve("sgdisk.raw");
    Tools.run(List.of("truncate", "-s", "64M", disk.toString())).ok();
    Tools.run(List.of("sgdisk", "-n", "14:2048:+1M", "-t", "14:ef02", "-n", "15:4096:+8M", "-t", "15:ef00",
        "-n", "1:20480:0", "-t", "1:8300", "-c", "1:root", disk.toString())).ok();
    Gpt gpt = grownLikeTheTools(disk, 300 * MIB);
    assertEquals(List.of(new Gpt.Entry(1, 20480, 131038), new Gpt.Entry(14, 2048, 4095),
        new Gpt.Entry(15, 4096, 20479)), gpt.entries());
  }

  @Test
  void growingTheRootOfADebianShapedTableWritesWhatSgdiskAndPartedWrite() throws Exception {
    Path disk = tmp.resolve("debian.raw");
    Tools.run(List.of("truncate", "-s", "64M", disk.toString())).ok();
    Path script = tmp.resolve("debian.sfdisk");
    Files.writeString(script, String.format("label: gpt%nfirst-lba: 2048%n"
        + "%1$s14 : start=2048, size=6144, type=21686148-6449-6E6F-744E-656564454649%n"
        + "%1$s15 : start=8192, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B%n"
        + "%1$s1 : start=24576, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root%n", disk));
    Tools.run(List.of("sh", "-c", "sfdisk -q " + disk + " < " + script)).ok();
    Gpt gpt = grownLikeTheTools(disk, 256 * MIB);
    assertEquals(3, gpt.entries().size());
  }

  @Test
  void aRootThatIsNotLastOrGrownBeforeKeepsItsTable() throws Exception {
    Path disk = tmp.resolve("two.raw");
    Tools.run(List.of("truncate", "-s", "64M", disk.toString())).ok();
    Tools.run(List.of("sgdisk", "-n", "1:2048:+16M", "-n", "2:0:0", disk.toString())).ok();
    Gpt gpt = Gpt.parse(read(disk, 0, Gpt.HEAD_SECTORS * Gpt.SECTOR)).orElseThrow();
    long sectors = 128 * MIB / Gpt.SECTOR;
    assertEquals(Optional.empty(), gpt.grown(1, sectors), "partition 1 is not the last one");
    assertTrue(gpt.grown(2, sectors).isPresent());
    assertEquals(Optional.empty(), gpt.grown(2, 64 * MIB / Gpt.SECTOR), "nothing to grow on the same disk");
  }

  @Test
  void anythingButAPlainIntactGptIsLeftToTheTools() throws Exception {
    Path disk = tmp.resolve("plain.raw");
    Tools.run(List.of("truncate", "-s", "64M", disk.toString())).ok();
    Tools.run(List.of("sgdisk", "-n", "1:2048:0", disk.toString())).ok();
    byte[] head = read(disk, 0, Gpt.HEAD_SECTORS * Gpt.SECTOR);
    assertTrue(Gpt.parse(head).isPresent());
    byte[] entry = head.clone();
    entry[2 * Gpt.SECTOR + 40] ^= 1; // an entry changed without its checksum
    assertEquals(Optional.empty(), Gpt.parse(entry));
    byte[] reserve = head.clone();
    java.nio.ByteBuffer h = java.nio.ByteBuffer.wrap(reserve).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    h.putLong(Gpt.SECTOR + 40, 16).putInt(Gpt.SECTOR + 16, 0);
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(reserve, Gpt.SECTOR, 92);
    h.putInt(Gpt.SECTOR + 16, (int) crc.getValue()); // a valid header, its first usable sector inside the array
    assertEquals(Optional.empty(), Gpt.parse(reserve), "a first usable sector inside the entry array");
    byte[] hybrid = head.clone();
    hybrid[446 + 16 + 4] = (byte) 0x83; // a second MBR entry beside the protective one
    assertEquals(Optional.empty(), Gpt.parse(hybrid));
    Path mbr = tmp.resolve("mbr.raw");
    Tools.run(List.of("truncate", "-s", "64M", mbr.toString())).ok();
    Tools.run(List.of("sh", "-c", "echo 'label: dos\nstart=2048, type=83' | sfdisk -q " + mbr)).ok();
    assertEquals(Optional.empty(), Gpt.parse(read(mbr, 0, Gpt.HEAD_SECTORS * Gpt.SECTOR)));
  }

  /** Grows the disk's last partition both ways on copies enlarged to {@code bytes} and compares them whole. */
  private Gpt grownLikeTheTools(Path disk, long bytes) throws Exception {
    Tools.run(List.of("truncate", "-s", Long.toString(bytes), disk.toString())).ok();
    Path theirs = tmp.resolve("theirs.raw");
    Tools.run(List.of("cp", "--sparse=always", disk.toString(), theirs.toString())).ok();
    Gpt gpt = Gpt.parse(read(disk, 0, Gpt.HEAD_SECTORS * Gpt.SECTOR)).orElseThrow();
    Gpt.Entry last = gpt.entries().stream().max(java.util.Comparator.comparingLong(Gpt.Entry::last)).orElseThrow();
    Gpt.Grown g = gpt.grown(last.number(), bytes / Gpt.SECTOR).orElseThrow();
    write(disk, 0, g.head());
    write(disk, g.tailAt() * Gpt.SECTOR, g.tail());
    assertEquals(bytes, Files.size(disk), "written inside the disk");

    Tools.run(List.of("sgdisk", "-e", theirs.toString())).ok();
    Tools.run(List.of("parted", "-s", theirs.toString(), "resizepart", Integer.toString(last.number()),
        g.grown().last() + "s")).ok();
    Tools.Result cmp = Tools.run(List.of("cmp", "-l", theirs.toString(), disk.toString()));
    assertEquals(0, cmp.code(), "bytes differ (offset, theirs, ours):\n" + cmp.out().lines().limit(20).toList());
    String verify = Tools.run(List.of("sgdisk", "-v", disk.toString())).ok().out();
    assertTrue(verify.contains("No problems found"), verify);
    return gpt;
  }

  private static byte[] read(Path f, long at, int n) throws Exception {
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "r")) {
      byte[] b = new byte[n];
      r.seek(at);
      r.readFully(b);
      return b;
    }
  }

  private static void write(Path f, long at, byte[] b) throws Exception {
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.seek(at);
      r.write(b);
    }
  }
}
