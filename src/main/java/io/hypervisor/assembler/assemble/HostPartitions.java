package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.guestfs.Gpt;
import io.hypervisor.assembler.guestfs.ImageSession.Partition;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A raw disk's partition table read on the host, as the appliance's parted lists it (device
 * {@code /dev/sdaN}, number, start and size in bytes): a GPT as {@link Gpt} reads it, or an MBR's
 * primary partitions. An extended partition, a sector size other than 512 or a damaged table
 * gives no answer (the appliance reads it). Only an ext4 file system's type is told, from its
 * superblock; others are "".
 */
public final class HostPartitions {
  private HostPartitions() {}

  private static final int SECTOR = 512;

  /** The partitions of the raw disk, or empty when this reader leaves the table to parted. */
  public static Optional<List<Partition>> read(Path raw) throws IOException {
    try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ)) {
      ByteBuffer mbr = bytes(ch, 0, SECTOR);
      if ((mbr.getShort(510) & 0xffff) != 0xaa55) {
        return Optional.empty();
      }
      List<long[]> found = new ArrayList<>(); // number, first sector, sectors
      boolean gpt = false;
      for (int i = 0; i < 4; i++) {
        int type = mbr.get(446 + i * 16 + 4) & 0xff;
        long first = mbr.getInt(446 + i * 16 + 8) & 0xffffffffL;
        long count = mbr.getInt(446 + i * 16 + 12) & 0xffffffffL;
        if (type == 0xee) {
          gpt = true;
        } else if (type == 0x05 || type == 0x0f || type == 0x85) {
          return Optional.empty(); // logical partitions: parted's numbering
        } else if (type != 0 && count > 0) {
          found.add(new long[] {i + 1, first, count});
        }
      }
      if (gpt) {
        found.clear();
        Optional<Gpt> table = Gpt.parse(bytes(ch, 0, Gpt.HEAD_SECTORS * SECTOR).array());
        if (table.isEmpty()) {
          return Optional.empty();
        }
        for (Gpt.Entry e : table.get().entries()) {
          if (e.last() < e.first()) {
            return Optional.empty();
          }
          found.add(new long[] {e.number(), e.first(), e.last() - e.first() + 1});
        }
      }
      List<Partition> out = new ArrayList<>();
      for (long[] f : found) {
        long start = f[1] * SECTOR;
        long length = f[2] * SECTOR;
        if (start + length > ch.size()) {
          return Optional.empty();
        }
        out.add(new Partition("/dev/sda" + f[0], (int) f[0], start, length, ext4(ch, start) ? "ext4" : ""));
      }
      out.sort(java.util.Comparator.comparingLong(Partition::start));
      return Optional.of(out);
    }
  }

  /**
   * An ext4 superblock (magic 0xEF53) with extents or flex_bg, which is how blkid tells ext4 from
   * ext2/3.
   */
  private static boolean ext4(FileChannel ch, long start) throws IOException {
    ByteBuffer sb = bytes(ch, start + 1024, 1024);
    int magic = sb.getShort(56) & 0xffff;
    int incompat = sb.getInt(96);
    return magic == 0xef53 && (incompat & (0x40 | 0x200)) != 0;
  }

  private static ByteBuffer bytes(FileChannel ch, long at, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    while (b.hasRemaining()) {
      if (ch.read(b, at + b.position()) < 0) {
        break; // past the end: zeros, which no table has
      }
    }
    return b;
  }
}
