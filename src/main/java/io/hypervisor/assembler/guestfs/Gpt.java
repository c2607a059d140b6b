package io.hypervisor.assembler.guestfs;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32;

/**
 * A GUID partition table as a disk's first 34 sectors hold it (protective MBR, header at LBA 1,
 * the entry array right after it), and the same table moved to a larger disk with one partition
 * grown to its end: what {@code sgdisk -e} followed by {@code parted resizepart} write, computed
 * here so the appliance only copies 33 sectors each way (the two tools cost ~2 s under TCG).
 * Anything unusual (a hybrid MBR, bad checksums, entries elsewhere) is left to those tools.
 */
public final class Gpt {
  /** Bytes per sector: the only size cloud images and this reader know. */
  public static final int SECTOR = 512;
  /** The sectors {@link #parse} reads: the protective MBR, the header and a 128-entry array. */
  public static final int HEAD_SECTORS = 34;

  /** One used entry: its number (1-based, as parted numbers it) and first and last sector. */
  public record Entry(int number, long first, long last) {
    /** Where it starts on the disk, in bytes. */
    public long start() {
      return first * SECTOR;
    }

    /** Its length in bytes. */
    public long size() {
      return (last - first + 1) * SECTOR;
    }
  }

  /** What to write: {@code head} at sector 0, {@code tail} at sector {@code tailAt}; the entry before and after. */
  public record Grown(byte[] head, long tailAt, byte[] tail, Entry before, Entry grown) {}

  private final byte[] head;
  private final int headerSize;
  private final int count;
  private final int entrySize;

  private Gpt(byte[] head, int headerSize, int count, int entrySize) {
    this.head = head;
    this.headerSize = headerSize;
    this.count = count;
    this.entrySize = entrySize;
  }

  /** The table in a disk's first sectors, or empty when it is not a plain, intact GPT this class handles. */
  public static Optional<Gpt> parse(byte[] first) {
    if (first.length < HEAD_SECTORS * SECTOR) {
      return Optional.empty();
    }
    byte[] head = java.util.Arrays.copyOf(first, HEAD_SECTORS * SECTOR);
    ByteBuffer b = le(head);
    if ((b.getShort(510) & 0xffff) != 0xaa55 || (b.get(446 + 4) & 0xff) != 0xee) {
      return Optional.empty();
    }
    for (int i = 1; i < 4; i++) {
      if (b.get(446 + i * 16 + 4) != 0) {
        return Optional.empty(); // a hybrid MBR: sgdisk knows what to keep
      }
    }
    if (!new String(head, SECTOR, 8, StandardCharsets.US_ASCII).equals("EFI PART")) {
      return Optional.empty();
    }
    int headerSize = b.getInt(SECTOR + 12);
    int count = b.getInt(SECTOR + 80);
    int entrySize = b.getInt(SECTOR + 84);
    if (headerSize < 92 || headerSize > SECTOR || b.getLong(SECTOR + 24) != 1 || b.getLong(SECTOR + 72) != 2
        || entrySize < 128 || entrySize % 8 != 0 || count <= 0 || (long) count * entrySize > 32L * SECTOR) {
      return Optional.empty();
    }
    long firstUsable = b.getLong(SECTOR + 40);
    if (firstUsable < 2 + ((long) count * entrySize + SECTOR - 1) / SECTOR || firstUsable > 8192) {
      return Optional.empty(); // entries overlapping the usable space, or an unusual reserve
    }
    Gpt g = new Gpt(head, headerSize, count, entrySize);
    if (g.headerCrc() != b.getInt(SECTOR + 16) || g.entriesCrc() != b.getInt(SECTOR + 88)) {
      return Optional.empty();
    }
    return Optional.of(g);
  }

  /** The used entries in the array's order. */
  public List<Entry> entries() {
    ByteBuffer b = le(head);
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int at = 2 * SECTOR + i * entrySize;
      if (b.getLong(at) != 0 || b.getLong(at + 8) != 0) {
        out.add(new Entry(i + 1, b.getLong(at + 32), b.getLong(at + 40)));
      }
    }
    return out;
  }

  /**
   * The table on a disk of {@code sectors} with partition {@code number} grown to the last 1 MiB
   * boundary before the backup table, or empty when that partition is not the physically last one
   * or would not grow by more than 1 MiB (a disk grown before keeps its table as it is). The bytes
   * are those of {@code sgdisk -e} then {@code parted resizepart}: sgdisk keeps as many sectors free
   * at the end as the header's first usable sector leaves at the start (Debian's images: 2048) and
   * puts the backup array right after the last usable sector; parted then writes the array again at
   * its own place, 33 sectors before the end, below the header, leaving sgdisk's copy where it was.
   */
  public Optional<Grown> grown(int number, long sectors) {
    if (!last(number)) {
      return Optional.empty();
    }
    List<Entry> used = entries();
    Entry target = used.stream().filter(e -> e.number() == number).findFirst().orElseThrow();
    int arraySectors = (count * entrySize + SECTOR - 1) / SECTOR;
    long firstUsable = le(head).getLong(SECTOR + 40);
    long lastUsable = sectors - firstUsable;
    long partedArray = sectors - 1 - arraySectors;
    if (lastUsable + arraySectors >= sectors - 1 || lastUsable <= target.last()) {
      return Optional.empty(); // a disk no larger than the table's
    }
    long end = ((sectors - 34 + 1) / 2048) * 2048 - 1; // as the appliance's grow has always computed it
    if (end > lastUsable) {
      end = ((lastUsable + 1) / 2048) * 2048 - 1;
    }
    if (end <= target.last() + 2048) {
      return Optional.empty();
    }
    byte[] array = java.util.Arrays.copyOfRange(head, 2 * SECTOR, (2 + arraySectors) * SECTOR); // sgdisk's copy
    byte[] primary = head.clone();
    ByteBuffer p = le(primary);
    // the protective entry spans the disk; its end CHS as parted writes it (no geometry fits)
    p.put(446 + 5, (byte) 0xff).put(446 + 6, (byte) 0xff).put(446 + 7, (byte) 0xff);
    p.putInt(446 + 12, (int) Math.min(sectors - 1, 0xffffffffL));
    p.putLong(2 * SECTOR + (number - 1) * entrySize + 40, end);
    Gpt grown = new Gpt(primary, headerSize, count, entrySize);
    p.putLong(SECTOR + 32, sectors - 1); // the backup header
    p.putLong(SECTOR + 48, lastUsable);
    p.putInt(SECTOR + 88, grown.entriesCrc());
    p.putInt(SECTOR + 16, grown.headerCrc());

    // from sgdisk's array to the backup header: the sectors between stay zero (past the old disk)
    byte[] tail = new byte[(int) ((sectors - lastUsable - 1) * SECTOR)];
    System.arraycopy(array, 0, tail, 0, array.length);
    int at = (int) ((partedArray - lastUsable - 1) * SECTOR);
    System.arraycopy(primary, 2 * SECTOR, tail, at, arraySectors * SECTOR);
    int h = tail.length - SECTOR;
    System.arraycopy(primary, SECTOR, tail, h, SECTOR);
    ByteBuffer t = le(tail);
    t.putLong(h + 24, sectors - 1);
    t.putLong(h + 32, 1);
    t.putLong(h + 72, partedArray);
    t.putInt(h + 16, 0);
    t.putInt(h + 16, crc(tail, h, headerSize));
    return Optional.of(new Grown(primary, lastUsable + 1, tail, target, new Entry(number, target.first(), end)));
  }

  /** Whether partition {@code number} is used and ends last on the disk (the only one that can grow). */
  public boolean last(int number) {
    List<Entry> used = entries();
    long lastEnd = used.stream().mapToLong(Entry::last).max().orElse(-1);
    return used.stream().anyMatch(e -> e.number() == number && e.last() == lastEnd);
  }

  private int headerCrc() {
    byte[] h = java.util.Arrays.copyOfRange(head, SECTOR, SECTOR + headerSize);
    le(h).putInt(16, 0);
    return crc(h, 0, headerSize);
  }

  private int entriesCrc() {
    return crc(head, 2 * SECTOR, count * entrySize);
  }

  private static int crc(byte[] b, int off, int len) {
    CRC32 c = new CRC32();
    c.update(b, off, len);
    return (int) c.getValue();
  }

  private static ByteBuffer le(byte[] b) {
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
  }
}
