package io.hypervisor.assembler.tree;

import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * An image's root tree read once from a tar stream (libguestfs tar_out) and put in a canonical
 * form: paths sorted by their bytes, times clamped to the build's epoch, numeric owners, every
 * extended attribute kept as bytes, hard links named after the first of their names. From it
 * come the tree manifest ({@link Mtree}, its sha256 the tree digest) and a canonical tar from
 * which a file system is rebuilt in one pass. File contents are spooled to one file beside the
 * build, never held in memory.
 */
public final class RootTree implements AutoCloseable {
  /** One path with, for a regular file, where its bytes lie in the spool, and for a hard link its first name. */
  private record Item(TreeEntry entry, long offset, String hardlinkTo, Map<String, byte[]> acls) {}

  private final Path spool;
  private final FileChannel data;
  private final List<Item> items;
  private final long spooled;

  private RootTree(Path spool, FileChannel data, List<Item> items, long spooled) {
    this.spool = spool;
    this.data = data;
    this.items = items;
    this.spooled = spooled;
  }

  /**
   * Reads a tar stream to its end, spooling file contents to {@code spool} (deleted on close) and
   * clamping every time after {@code clampTo} (seconds since 1970) to it.
   */
  public static RootTree read(InputStream tar, Path spool, long clampTo) throws IOException {
    FileChannel ch = FileChannel.open(spool, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      TarReader r = new TarReader(tar);
      Map<String, Item> byPath = new LinkedHashMap<>();
      Map<String, String> links = new LinkedHashMap<>();
      byte[] buf = new byte[1 << 16];
      long pos = 0;
      for (TarReader.Header h = r.next(); h != null; h = r.next()) {
        String path = normalize(h.path());
        long sec = h.mtime();
        int nanos = h.mtimeNanos();
        if (sec > clampTo || (sec == clampTo && nanos > 0)) {
          sec = clampTo;
          nanos = 0;
        }
        SortedMap<String, byte[]> xattrs = new TreeMap<>(h.xattrs());
        h.acls().forEach((k, v) -> xattrs.put("acl." + k, v));
        TreeEntry.Type type;
        switch (h.type()) {
          case '0' -> type = TreeEntry.Type.FILE;
          case '5' -> type = TreeEntry.Type.DIR;
          case '2' -> type = TreeEntry.Type.LINK;
          case '3' -> type = TreeEntry.Type.CHAR;
          case '4' -> type = TreeEntry.Type.BLOCK;
          case '6' -> type = TreeEntry.Type.FIFO;
          case '1' -> {
            links.put(path, normalize(h.link()));
            byPath.put(path, new Item(new TreeEntry(path, TreeEntry.Type.FILE, h.mode(), h.uid(), h.gid(), 0, null,
                null, 0, 0, sec, nanos, 1, xattrs), -1, normalize(h.link()), h.acls()));
            continue;
          }
          default -> throw new IOException("the tree holds " + h.path() + " of tar type '" + h.type()
              + "', which an image's root does not");
        }
        long offset = -1;
        String sha = null;
        long size = 0;
        if (type == TreeEntry.Type.FILE) {
          MessageDigest md = sha256();
          offset = pos;
          for (int n = r.data(buf, 0, buf.length); n > 0; n = r.data(buf, 0, buf.length)) {
            md.update(buf, 0, n);
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
            while (bb.hasRemaining()) {
              pos += ch.write(bb, pos);
            }
          }
          size = pos - offset;
          sha = HexFormat.of().formatHex(md.digest());
        }
        byPath.put(path, new Item(new TreeEntry(path, type, h.mode(), h.uid(), h.gid(), size, sha,
            type == TreeEntry.Type.LINK ? h.link() : null, h.devMajor(), h.devMinor(), sec, nanos, 1, xattrs),
            offset, null, h.acls()));
      }
      List<Item> items = resolveHardLinks(byPath, links);
      items.sort((a, b) -> compareBytes(a.entry().path(), b.entry().path()));
      return new RootTree(spool, ch, items, pos);
    } catch (IOException | RuntimeException e) {
      ch.close();
      Files.deleteIfExists(spool);
      throw e;
    }
  }

  /**
   * Hard links: every name of a file gets its content, and the tar names the smallest path first
   * (with the data) and the others as links to it, whatever order the stream had them in.
   */
  private static List<Item> resolveHardLinks(Map<String, Item> byPath, Map<String, String> links) throws IOException {
    Map<String, List<String>> groups = new TreeMap<>();
    for (String name : links.keySet()) {
      String target = links.get(name);
      int hops = 0;
      while (links.containsKey(target)) {
        target = links.get(target);
        if (++hops > links.size()) {
          throw new IOException("hard link loop at " + name);
        }
      }
      Item t = byPath.get(target);
      if (t == null || t.entry().type() != TreeEntry.Type.FILE || t.hardlinkTo() != null) {
        throw new IOException("hard link " + name + " names " + target + ", which is not a file before it in the tree");
      }
      groups.computeIfAbsent(target, k -> new ArrayList<>(List.of(k))).add(name);
    }
    Map<String, Item> out = new LinkedHashMap<>(byPath);
    for (Map.Entry<String, List<String>> g : groups.entrySet()) {
      Item holder = byPath.get(g.getKey());
      List<String> names = new ArrayList<>(g.getValue());
      names.sort(RootTree::compareBytes);
      String first = names.get(0);
      for (String n : names) {
        TreeEntry h = holder.entry();
        TreeEntry merged = new TreeEntry(n, TreeEntry.Type.FILE, h.mode(), h.uid(), h.gid(), h.size(), h.sha256(), null,
            0, 0, h.mtime(), h.mtimeNanos(), names.size(), h.xattrs());
        out.put(n, new Item(merged, n.equals(first) ? holder.offset() : -1, n.equals(first) ? null : first,
            holder.acls()));
      }
    }
    return new ArrayList<>(out.values());
  }

  /** The tree's paths, sorted. */
  public List<TreeEntry> entries() {
    List<TreeEntry> out = new ArrayList<>(items.size());
    items.forEach(i -> out.add(i.entry()));
    return Collections.unmodifiableList(out);
  }

  /** The tree manifest (mtree). */
  public byte[] manifest() {
    return Mtree.write(entries());
  }

  /** Paths carrying POSIX ACLs (which a rebuilt file system would not keep). */
  public List<String> aclPaths() {
    return items.stream().filter(i -> !i.acls().isEmpty()).map(i -> i.entry().path()).toList();
  }

  /** Bytes of file content in the tree. */
  public long contentBytes() {
    return spooled;
  }

  /**
   * The canonical tar of the tree: sorted, "./" names, numeric owners, clamped times, extended
   * attributes as {@code SCHILY.xattr.*}, hard links after their first name. The same tree gives
   * the same bytes.
   */
  public void writeTar(WritableByteChannel out) throws IOException {
    TarWriter w = new TarWriter(out, null, 0);
    for (Item i : items) {
      TreeEntry e = i.entry();
      SortedMap<String, byte[]> pax = new TreeMap<>();
      e.xattrs().forEach((k, v) -> {
        if (!k.startsWith("acl.")) {
          pax.put("SCHILY.xattr." + k, v);
        }
      });
      i.acls().forEach((k, v) -> pax.put("SCHILY.acl." + k, v));
      String name = e.path().equals(".") ? "./" : "./" + e.path() + (e.type() == TreeEntry.Type.DIR ? "/" : "");
      char type;
      String link = null;
      long size = 0;
      if (i.hardlinkTo() != null) {
        type = '1';
        link = "./" + i.hardlinkTo();
      } else {
        switch (e.type()) {
          case FILE -> {
            type = '0';
            size = e.size();
          }
          case DIR -> type = '5';
          case LINK -> {
            type = '2';
            link = e.link();
          }
          case CHAR -> type = '3';
          case BLOCK -> type = '4';
          case FIFO -> type = '6';
          default -> throw new IllegalStateException(e.type().toString());
        }
      }
      w.entry(new TarWriter.Entry(name, type, e.mode(), e.uid(), e.gid(), e.mtime(), e.mtimeNanos(), link,
          e.devMajor(), e.devMinor(), pax), size, data, i.offset());
    }
    w.finish();
  }

  @Override
  public void close() throws IOException {
    data.close();
    Files.deleteIfExists(spool);
  }

  /** "./usr/bin/" → "usr/bin", "./" → "."; refuses names that leave the tree. */
  static String normalize(String raw) throws IOException {
    String p = raw;
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    while (p.startsWith("/")) {
      p = p.substring(1);
    }
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    if (p.isEmpty() || p.equals(".")) {
      return ".";
    }
    for (String part : p.split("/")) {
      if (part.equals("..") || part.equals(".") || part.isEmpty()) {
        throw new IOException("the tree holds a path that is not canonical: " + raw);
      }
    }
    return p;
  }

  /** Unsigned comparison of the paths' UTF-8 bytes (the order of LC_ALL=C sort). */
  static int compareBytes(String a, String b) {
    if (a.equals(".") || b.equals(".")) { // the root before everything, even "-x" or " x"
      return a.equals(b) ? 0 : a.equals(".") ? -1 : 1;
    }
    return java.util.Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The sha256 of a manifest: the tree digest. */
  public static Digest digest(byte[] manifest) {
    return Digest.sha256(manifest);
  }
}
