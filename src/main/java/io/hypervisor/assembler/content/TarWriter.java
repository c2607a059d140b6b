package io.hypervisor.assembler.content;

import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * A streaming tar writer for what the assembler ships: directories, files from the content store
 * (copied with {@link FileChannel#transferTo}, so the kernel moves the bytes) and small files
 * from memory. POSIX ustar, with a PAX header only where a name does not fit or a size passes
 * 8 GiB; owners root (0:0) and one fixed time, so the same content gives the same bytes.
 * GNU tar (the libguestfs appliance's), bsdtar and commons-compress read it.
 */
public final class TarWriter implements TreeSink, AutoCloseable {
  private static final int BLOCK = 512;
  private final WritableByteChannel out;
  private final ContentStore store;
  private final long mtime;
  private long written;

  /** Writes to {@code out}; blobs come from {@code store}; every entry gets {@code mtime} (epoch seconds). */
  public TarWriter(WritableByteChannel out, ContentStore store, long mtime) {
    this.out = out;
    this.store = store;
    this.mtime = mtime;
  }

  /** Bytes written so far (for progress). */
  public long written() {
    return written;
  }

  @Override
  public void directory(String path, int mode) throws IOException {
    header(path.endsWith("/") ? path : path + "/", mode, 0, '5');
  }

  @Override
  public void file(String path, int mode, byte[] data) throws IOException {
    header(path, mode, data.length, '0');
    write(ByteBuffer.wrap(data));
    pad(data.length);
  }

  /** A file whose content is a blob of the content store. */
  @Override
  public void blob(String path, int mode, Digest digest) throws IOException {
    try (FileChannel in = FileChannel.open(store.path(digest), StandardOpenOption.READ)) {
      long size = in.size();
      header(path, mode, size, '0');
      long pos = 0;
      while (pos < size) {
        long n = in.transferTo(pos, size - pos, out);
        if (n <= 0) {
          throw new IOException("short read of blob " + digest + " at " + pos + " of " + size);
        }
        pos += n;
      }
      written += size;
      pad(size);
    }
  }

  private void header(String name, int mode, long size, char type) throws IOException {
    byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
    String prefix = "";
    String base = name;
    boolean pax = size >= 077777777777L;
    if (nameBytes.length > 100) {
      int split = splitPoint(name);
      if (split > 0) {
        prefix = name.substring(0, split);
        base = name.substring(split + 1);
      } else {
        pax = true;
      }
    }
    if (pax) {
      StringBuilder records = new StringBuilder();
      records.append(paxRecord("path", name));
      if (size >= 077777777777L) {
        records.append(paxRecord("size", Long.toString(size)));
      }
      byte[] data = records.toString().getBytes(StandardCharsets.UTF_8);
      writeHeader("././@PaxHeader", "", 0644, data.length, 'x');
      write(ByteBuffer.wrap(data));
      pad(data.length);
      base = truncate(base, 100);
      prefix = "";
    }
    writeHeader(base, prefix, mode, pax && size >= 077777777777L ? 0 : size, type);
  }

  private void writeHeader(String name, String prefix, int mode, long size, char type) throws IOException {
    byte[] h = new byte[BLOCK];
    put(h, 0, 100, name.getBytes(StandardCharsets.UTF_8));
    octal(h, 100, 8, mode);
    octal(h, 108, 8, 0);
    octal(h, 116, 8, 0);
    octal(h, 124, 12, size);
    octal(h, 136, 12, mtime);
    Arrays.fill(h, 148, 156, (byte) ' ');
    h[156] = (byte) type;
    put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
    put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
    put(h, 265, 32, "root".getBytes(StandardCharsets.US_ASCII));
    put(h, 297, 32, "root".getBytes(StandardCharsets.US_ASCII));
    put(h, 345, 155, prefix.getBytes(StandardCharsets.UTF_8));
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    octal(h, 148, 7, sum);
    h[155] = ' ';
    write(ByteBuffer.wrap(h));
  }

  /** Where to cut a long name into ustar prefix (≤ 155) and name (≤ 100), or -1. */
  private static int splitPoint(String name) {
    for (int i = name.length() - 1; i > 0; i--) {
      if (name.charAt(i) == '/' && i <= 155 && name.length() - i - 1 <= 100
          && name.substring(0, i).getBytes(StandardCharsets.UTF_8).length <= 155) {
        return i;
      }
    }
    return -1;
  }

  private static String paxRecord(String key, String value) {
    String body = " " + key + "=" + value + "\n";
    int len = body.getBytes(StandardCharsets.UTF_8).length;
    int total = len + Integer.toString(len).length();
    if (Integer.toString(total).length() != Integer.toString(len).length()) {
      total++;
    }
    return total + body;
  }

  private static String truncate(String s, int bytes) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return b.length <= bytes ? s : new String(b, b.length - bytes, bytes, StandardCharsets.UTF_8);
  }

  private static void put(byte[] h, int off, int len, byte[] v) {
    System.arraycopy(v, 0, h, off, Math.min(len, v.length));
  }

  private static void octal(byte[] h, int off, int len, long v) {
    String s = Long.toOctalString(v);
    while (s.length() < len - 1) {
      s = "0" + s;
    }
    put(h, off, len - 1, s.getBytes(StandardCharsets.US_ASCII));
    h[off + len - 1] = 0;
  }

  private void pad(long size) throws IOException {
    int rest = (int) (size % BLOCK);
    if (rest != 0) {
      write(ByteBuffer.allocate(BLOCK - rest));
    }
  }

  private void write(ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      written += out.write(b);
    }
  }

  /** Ends the archive (two zero blocks); does not close the channel. */
  public void finish() throws IOException {
    write(ByteBuffer.allocate(2 * BLOCK));
  }

  @Override
  public void close() throws IOException {
    finish();
  }
}
