package io.hypervisor.assembler.content;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * A decompressed stream cut off once it has produced more than a limit: what a compressed input
 * may expand to is bounded by the expected size, or by a ratio of its compressed size and an
 * absolute cap when no size is known, so a small decompression bomb cannot fill memory or disk.
 */
public final class ExpansionLimit extends FilterInputStream {
  /** How much a compressed input may expand when nothing better is known (real data stays far below). */
  public static final long RATIO = 50;
  /** Never less than this, whatever the ratio says (small indexes compress well). */
  public static final long FLOOR = 64L << 20;

  private final long limit;
  private final String what;
  private long count;

  private ExpansionLimit(InputStream in, long limit, String what) {
    super(in);
    this.limit = limit;
    this.what = what;
  }

  /** At most {@link #RATIO} times {@code compressedSize} (at least {@link #FLOOR}, at most {@code cap}). */
  public static InputStream of(InputStream decompressed, long compressedSize, long cap, String what) {
    return new ExpansionLimit(decompressed, Math.min(cap, Math.max(FLOOR, compressedSize * RATIO)), what);
  }

  /** The limit a stream of {@code compressedSize} bytes gets. */
  public static long limit(long compressedSize, long cap) {
    return Math.min(cap, Math.max(FLOOR, compressedSize * RATIO));
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      count(1);
    }
    return b;
  }

  @Override
  public int read(byte[] buf, int off, int len) throws IOException {
    int n = super.read(buf, off, len);
    if (n > 0) {
      count(n);
    }
    return n;
  }

  private void count(long n) throws IOException {
    count += n;
    if (count > limit) {
      throw new IOException(what + " expands beyond " + limit + " bytes; refusing it (a decompression bomb?)");
    }
  }
}
