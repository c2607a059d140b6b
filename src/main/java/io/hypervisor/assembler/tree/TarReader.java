package io.hypervisor.assembler.tree;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads a tar stream as GNU tar writes it in the libguestfs appliance (tar_out with xattrs,
 * SELinux labels and ACLs): ustar and GNU headers, base-256 numbers, GNU long names and link
 * names, POSIX PAX records with binary values kept as bytes ({@code SCHILY.xattr.*} carries
 * {@code security.capability} as raw bytes, which a String-based reader would corrupt),
 * {@code LIBARCHIVE.xattr.*}, {@code RHT.security.selinux} and {@code SCHILY.acl.*}. Checksums are
 * checked; sparse and multi-volume entries are refused (tar_out writes neither).
 */
public final class TarReader implements TreeSource {
  private static final int BLOCK = 512;

  /** One entry's header as read: the raw path (as in the stream), its metadata and PAX extras. */
  public record Header(String path, char type, int mode, long uid, long gid, long size, long mtime, int mtimeNanos,
      String link, int devMajor, int devMinor, Map<String, byte[]> xattrs, Map<String, byte[]> acls) {}

  private final InputStream in;
  private final byte[] block = new byte[BLOCK];
  private long remaining;
  private long padding;
  private long offset;

  public TarReader(InputStream in) {
    this.in = in;
  }

  /** Bytes consumed so far. */
  public long offset() {
    return offset;
  }

  /** The next entry (its data is then read with {@link #data}), or null at the end of the archive. */
  @Override
  public Header next() throws IOException {
    skipRest();
    String longName = null;
    String longLink = null;
    Map<String, byte[]> pax = new TreeMap<>();
    while (true) {
      if (!readBlock()) {
        return null;
      }
      if (isZero(block)) {
        return null; // end of archive (the second zero block, if any, is not needed)
      }
      checkSum();
      char type = (char) block[156];
      long size = number(124, 12);
      if (size < 0) {
        throw new IOException("tar entry at offset " + (offset - BLOCK) + " has a negative size");
      }
      switch (type) {
        case 'x' -> parsePax(readAll(size), pax);
        case 'g' -> readAll(size); // global records: GNU tar writes none; nothing we keep
        case 'L' -> longName = cString(readAll(size));
        case 'K' -> longLink = cString(readAll(size));
        case 'S', 'M', 'V' -> throw new IOException("tar entry type '" + type + "' (sparse, multi-volume or volume"
            + " label) is not supported in an image tree");
        default -> {
          return header(type, size, longName, longLink, pax);
        }
      }
    }
  }

  private Header header(char type, long size, String longName, String longLink, Map<String, byte[]> pax)
      throws IOException {
    boolean ustar = block[257] == 'u' && block[258] == 's' && block[259] == 't' && block[260] == 'a'
        && block[261] == 'r' && block[262] == 0;
    String name = cString(block, 0, 100);
    if (ustar) {
      String prefix = cString(block, 345, 155);
      if (!prefix.isEmpty()) {
        name = prefix + "/" + name;
      }
    }
    if (longName != null) {
      name = longName;
    }
    String link = cString(block, 157, 100);
    if (longLink != null) {
      link = longLink;
    }
    long uid = number(108, 8);
    long gid = number(116, 8);
    long mtime = number(136, 12);
    int nanos = 0;
    Map<String, byte[]> xattrs = new TreeMap<>();
    Map<String, byte[]> acls = new TreeMap<>();
    for (Map.Entry<String, byte[]> e : pax.entrySet()) {
      String k = e.getKey();
      String v = new String(e.getValue(), StandardCharsets.UTF_8);
      switch (k) {
        case "path" -> name = v;
        case "linkpath" -> link = v;
        case "size" -> size = decimal(k, v);
        case "uid" -> uid = decimal(k, v);
        case "gid" -> gid = decimal(k, v);
        case "mtime" -> {
          long[] t = time(v);
          mtime = t[0];
          nanos = (int) t[1];
        }
        case "RHT.security.selinux" -> xattrs.put("security.selinux", e.getValue());
        default -> {
          if (k.startsWith("SCHILY.xattr.")) {
            xattrs.put(k.substring("SCHILY.xattr.".length()), e.getValue());
          } else if (k.startsWith("LIBARCHIVE.xattr.")) {
            xattrs.put(java.net.URLDecoder.decode(k.substring("LIBARCHIVE.xattr.".length()), StandardCharsets.UTF_8),
                Base64.getDecoder().decode(stripPadding(v)));
          } else if (k.startsWith("SCHILY.acl.")) {
            acls.put(k.substring("SCHILY.acl.".length()), e.getValue());
          }
          // atime, ctime, uname, gname, GNU.* and others: not part of the tree we keep
        }
      }
    }
    remaining = size;
    padding = (BLOCK - size % BLOCK) % BLOCK;
    int mode = (int) (number(100, 8) & 07777);
    return new Header(name, type == 0 || type == '7' ? '0' : type, mode, uid, gid, size, mtime, nanos, link,
        (int) number(329, 8), (int) number(337, 8), xattrs, acls);
  }

  /** Reads up to {@code n} bytes of the current entry's data into {@code buf}; -1 when it is consumed. */
  @Override
  public int data(byte[] buf, int off, int n) throws IOException {
    if (remaining == 0) {
      return -1;
    }
    int r = in.read(buf, off, (int) Math.min(n, remaining));
    if (r < 0) {
      throw new EOFException("the tar stream ends inside an entry (" + remaining + " bytes missing)");
    }
    remaining -= r;
    offset += r;
    return r;
  }

  private void skipRest() throws IOException {
    byte[] buf = new byte[65536];
    while (remaining > 0) {
      data(buf, 0, buf.length);
    }
    skipFully(padding);
    padding = 0;
  }

  private void skipFully(long n) throws IOException {
    byte[] buf = new byte[BLOCK];
    while (n > 0) {
      int r = in.read(buf, 0, (int) Math.min(n, BLOCK));
      if (r < 0) {
        throw new EOFException("the tar stream ends inside padding");
      }
      n -= r;
      offset += r;
    }
  }

  private byte[] readAll(long size) throws IOException {
    if (size > (16 << 20)) {
      throw new IOException("a tar extended header of " + size + " bytes is larger than any tree needs (16 MiB)");
    }
    byte[] b = in.readNBytes((int) size);
    if (b.length != size) {
      throw new EOFException("the tar stream ends inside an extended header");
    }
    offset += size;
    skipFully((BLOCK - size % BLOCK) % BLOCK);
    return b;
  }

  private boolean readBlock() throws IOException {
    int n = in.readNBytes(block, 0, BLOCK);
    offset += n;
    if (n == 0) {
      return false;
    }
    if (n < BLOCK) {
      throw new EOFException("the tar stream ends inside a header");
    }
    return true;
  }

  private static boolean isZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  private void checkSum() throws IOException {
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) {
      sum += i >= 148 && i < 156 ? ' ' : block[i] & 0xff;
    }
    long stored = number(148, 8);
    if (stored != sum) {
      throw new IOException("tar header at offset " + (offset - BLOCK) + " has a bad checksum (not a tar stream?)");
    }
  }

  /** An octal field, or a base-256 one (GNU: first byte 0x80, for values octal cannot hold). */
  private long number(int off, int len) throws IOException {
    if ((block[off] & 0x80) != 0) {
      long v = block[off] & 0x3f;
      for (int i = 1; i < len; i++) {
        if (v > (Long.MAX_VALUE >> 8)) {
          throw new IOException("a tar number field overflows");
        }
        v = (v << 8) | (block[off + i] & 0xff);
      }
      return v;
    }
    long v = 0;
    int i = off;
    int end = off + len;
    while (i < end && (block[i] == ' ' || block[i] == 0)) {
      i++;
    }
    for (; i < end && block[i] >= '0' && block[i] <= '7'; i++) {
      if (v > (Long.MAX_VALUE >> 3)) {
        throw new IOException("a tar number field overflows");
      }
      v = v * 8 + (block[i] - '0');
    }
    return v;
  }

  private static void parsePax(byte[] data, Map<String, byte[]> into) throws IOException {
    int p = 0;
    while (p < data.length) {
      int sp = p;
      int len = 0;
      while (sp < data.length && data[sp] >= '0' && data[sp] <= '9') {
        len = len * 10 + (data[sp] - '0');
        if (len > data.length) {
          throw new IOException("a PAX record's length runs past its header");
        }
        sp++;
      }
      if (sp >= data.length || data[sp] != ' ' || len <= sp - p || p + len > data.length || data[p + len - 1] != '\n') {
        throw new IOException("malformed PAX record at " + p);
      }
      int eq = sp + 1;
      while (eq < p + len && data[eq] != '=') {
        eq++;
      }
      if (eq >= p + len) {
        throw new IOException("a PAX record without '=' at " + p);
      }
      String key = new String(data, sp + 1, eq - sp - 1, StandardCharsets.UTF_8);
      byte[] value = java.util.Arrays.copyOfRange(data, eq + 1, p + len - 1);
      into.put(key, value);
      p += len;
    }
  }

  private static long decimal(String key, String v) throws IOException {
    try {
      return Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      throw new IOException("PAX " + key + "=" + v + " is not a number");
    }
  }

  /** "SECONDS[.FRACTION]" as seconds and nanoseconds. */
  static long[] time(String v) throws IOException {
    String s = v.strip();
    int dot = s.indexOf('.');
    try {
      long sec = Long.parseLong(dot < 0 ? s : s.substring(0, dot));
      long nanos = 0;
      if (dot >= 0) {
        String f = (s.substring(dot + 1) + "000000000").substring(0, 9);
        nanos = Long.parseLong(f);
        if (sec < 0 && nanos > 0) { // "-1.5" is 1.5 s before 1970
          sec -= 1;
          nanos = 1_000_000_000L - nanos;
        }
      }
      return new long[] {sec, nanos};
    } catch (NumberFormatException e) {
      throw new IOException("PAX time " + v + " is not a number");
    }
  }

  private static String stripPadding(String v) {
    return v.strip();
  }

  private static String cString(byte[] b) {
    return cString(b, 0, b.length);
  }

  private static String cString(byte[] b, int off, int len) {
    int end = off;
    while (end < off + len && b[end] != 0) {
      end++;
    }
    return new String(b, off, end - off, StandardCharsets.UTF_8);
  }
}
