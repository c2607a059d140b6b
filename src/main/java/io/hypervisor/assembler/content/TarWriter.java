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
    file(path, mode, store.path(digest));
  }

  /** A file whose content is a host file's (read to its size when the entry starts). */
  public void file(String path, int mode, java.nio.file.Path file) throws IOException {
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = in.size();
      header(path, mode, size, '0');
      long pos = 0;
      while (pos < size) {
        long n = in.transferTo(pos, size - pos, out);
        if (n <= 0) {
          throw new IOException("short read of " + file + " at " + pos + " of " + size);
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
    h[156] = (byte) type;
    put(h, 265, 32, "root".getBytes(StandardCharsets.US_ASCII));
    put(h, 297, 32, "root".getBytes(StandardCharsets.US_ASCII));
    put(h, 345, 155, prefix.getBytes(StandardCharsets.UTF_8));
    seal(h);
    write(ByteBuffer.wrap(h));
  }

  /**
   * Full metadata of one entry, for a file tree copied out of an image and written back: numeric
   * owners (no user names), the time with nanoseconds, a link target (symbolic, or the hard link's
   * first name), device numbers, and further PAX records by key (extended attributes as
   * {@code SCHILY.xattr.NAME}, binary values kept as bytes).
   */
  public record Entry(String path, char type, int mode, long uid, long gid, long mtime, int mtimeNanos, String link,
      int devMajor, int devMinor, java.util.SortedMap<String, byte[]> pax) {}

  /**
   * Writes one entry with its metadata; a regular file's {@code size} bytes are copied from
   * {@code data} at {@code offset}. Whatever does not fit ustar (names or link targets over 100
   * bytes, sizes of 8 GiB, owners over 2097151, sub-second times) goes into a PAX header, always
   * in the same record order, so the same tree gives the same bytes.
   */
  public void entry(Entry e, long size, FileChannel data, long offset) throws IOException {
    byte[] path = e.path().getBytes(StandardCharsets.UTF_8);
    byte[] link = e.link() == null ? new byte[0] : e.link().getBytes(StandardCharsets.UTF_8);
    java.io.ByteArrayOutputStream records = new java.io.ByteArrayOutputStream();
    if (path.length > 100) {
      records.writeBytes(paxRecord("path", path));
    }
    if (link.length > 100) {
      records.writeBytes(paxRecord("linkpath", link));
    }
    if (size >= 077777777777L) {
      records.writeBytes(paxRecord("size", ascii(Long.toString(size))));
    }
    if (e.uid() > 07777777) {
      records.writeBytes(paxRecord("uid", ascii(Long.toString(e.uid()))));
    }
    if (e.gid() > 07777777) {
      records.writeBytes(paxRecord("gid", ascii(Long.toString(e.gid()))));
    }
    if (e.mtimeNanos() != 0) {
      records.writeBytes(paxRecord("mtime", ascii(e.mtime() + "." + String.format("%09d", e.mtimeNanos()))));
    }
    e.pax().forEach((k, v) -> records.writeBytes(paxRecord(k, v)));
    if (records.size() > 0) {
      byte[] h = new byte[BLOCK];
      put(h, 0, 100, ascii("././@PaxHeader"));
      octal(h, 100, 8, 0644);
      octal(h, 108, 8, 0);
      octal(h, 116, 8, 0);
      octal(h, 124, 12, records.size());
      octal(h, 136, 12, Math.max(0, e.mtime()));
      h[156] = 'x';
      seal(h);
      write(ByteBuffer.wrap(h));
      write(ByteBuffer.wrap(records.toByteArray()));
      pad(records.size());
    }
    byte[] h = new byte[BLOCK];
    put(h, 0, 100, path);
    octal(h, 100, 8, e.mode() & 07777);
    octal(h, 108, 8, e.uid() > 07777777 ? 0 : e.uid());
    octal(h, 116, 8, e.gid() > 07777777 ? 0 : e.gid());
    octal(h, 124, 12, size >= 077777777777L ? 0 : size);
    octal(h, 136, 12, Math.max(0, Math.min(e.mtime(), 077777777777L)));
    h[156] = (byte) e.type();
    put(h, 157, 100, link);
    if (e.type() == '3' || e.type() == '4') {
      octal(h, 329, 8, e.devMajor());
      octal(h, 337, 8, e.devMinor());
    }
    seal(h);
    write(ByteBuffer.wrap(h));
    if (size > 0) {
      long pos = 0;
      while (pos < size) {
        long n = data.transferTo(offset + pos, size - pos, out);
        if (n <= 0) {
          throw new IOException("short read of " + e.path() + " at " + pos + " of " + size);
        }
        pos += n;
      }
      written += size;
      pad(size);
    }
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  /** The ustar magic and version, then the header checksum. */
  private static void seal(byte[] h) {
    put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
    put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
    Arrays.fill(h, 148, 156, (byte) ' ');
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    octal(h, 148, 7, sum);
    h[155] = ' ';
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

  /** One PAX record, "LEN key=value\n", LEN counting itself; the value is raw bytes. */
  private static byte[] paxRecord(String key, byte[] value) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    int len = 1 + k.length + 1 + value.length + 1;
    int total = len + Integer.toString(len).length();
    if (Integer.toString(total).length() != Integer.toString(len).length()) {
      total++;
    }
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream(total);
    b.writeBytes(ascii(total + " "));
    b.writeBytes(k);
    b.write('=');
    b.writeBytes(value);
    b.write('\n');
    return b.toByteArray();
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
