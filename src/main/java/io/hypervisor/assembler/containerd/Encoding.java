package io.hypervisor.assembler.containerd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;

/** How containerd encodes values in meta.db (containerd-store.md §2.2). */
final class Encoding {
  /** Seconds from 0001-01-01T00:00:00Z to the Unix epoch (Go's time package). */
  static final long GO_EPOCH_OFFSET = 62135596800L;

  private Encoding() {}

  /** Go's binary.PutVarint: zig-zag, then LEB128. */
  static byte[] varint(long x) {
    long u = (x << 1) ^ (x >> 63);
    return uvarint(u);
  }

  /** Go's binary.PutUvarint. */
  static byte[] uvarint(long u) {
    byte[] buf = new byte[10];
    int i = 0;
    while (Long.compareUnsigned(u, 0x80) >= 0) {
      buf[i++] = (byte) (u | 0x80);
      u >>>= 7;
    }
    buf[i++] = (byte) u;
    return java.util.Arrays.copyOf(buf, i);
  }

  static long readVarint(byte[] b) {
    long u = 0;
    int shift = 0;
    for (byte x : b) {
      u |= (long) (x & 0x7f) << shift;
      if ((x & 0x80) == 0) {
        break;
      }
      shift += 7;
    }
    return (u >>> 1) ^ -(u & 1);
  }

  /**
   * Go's time.Time.MarshalBinary (version 1) for a UTC time, as containerd stores createdat and
   * updatedat: version byte 1, seconds since year 1 (int64 BE), nanoseconds (int32 BE), zone
   * offset in minutes with -1 meaning UTC.
   */
  static byte[] time(Instant t) {
    return ByteBuffer.allocate(15).order(ByteOrder.BIG_ENDIAN).put((byte) 1)
        .putLong(t.getEpochSecond() + GO_EPOCH_OFFSET).putInt(t.getNano()).putShort((short) -1).array();
  }

  static Instant readTime(byte[] b) {
    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.BIG_ENDIAN);
    if (b.length != 15 || bb.get() != 1) {
      throw new IllegalArgumentException("not a Go time (version 1, 15 bytes)");
    }
    return Instant.ofEpochSecond(bb.getLong() - GO_EPOCH_OFFSET, bb.getInt());
  }
}
