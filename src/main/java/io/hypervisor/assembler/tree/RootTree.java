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
 * An image's root tree read once from a tar stream (libguestfs tar_out) or from its ext4 file
 * system on the host ({@link Ext4Reader}) and put in a canonical
 * form: paths sorted by their bytes, times clamped to the build's epoch, numeric owners, every
 * extended attribute kept as bytes, hard links named after the first of their names. From it
 * come the tree manifest ({@link Mtree}, its sha256 the tree digest) and a canonical tar from
 * which a file system is rebuilt in one pass. File contents are spooled to one file beside the
 * build, never held in memory.
 */
public final class RootTree implements AutoCloseable {
  /**
   * One path with, for a regular file, the spool its bytes lie in (index into the tree's spools)
   * and where, and for a hard link its first name.
   */
  private record Item(TreeEntry entry, int spool, long offset, String hardlinkTo, Map<String, byte[]> acls) {
    Item(TreeEntry entry, long offset, String hardlinkTo, Map<String, byte[]> acls) {
      this(entry, 0, offset, hardlinkTo, acls);
    }

    Item inSpool(int index) {
      return new Item(entry, index, offset, hardlinkTo, acls);
    }
  }

  /** A spool file of contents; an owned one is deleted when the tree closes. */
  private record Spool(Path file, FileChannel channel, boolean owned) {}

  private final List<Spool> spools;
  private final List<Item> items;
  private final long spooled;

  private RootTree(List<Spool> spools, List<Item> items, long spooled) {
    this.spools = spools;
    this.items = items;
    this.spooled = spooled;
  }

  private RootTree(Path spool, FileChannel data, List<Item> items, long spooled) {
    this(List.of(new Spool(spool, data, true)), items, spooled);
  }

  /**
   * Reads a tar stream to its end, spooling file contents to {@code spool} (deleted on close) and
   * clamping every time after {@code clampTo} (seconds since 1970) to it.
   */
  public static RootTree read(InputStream tar, Path spool, long clampTo) throws IOException {
    return read(new TarReader(tar), spool, clampTo);
  }

  /** The same from any source of entries (a tar stream, or an ext4 file system read on the host). */
  public static RootTree read(TreeSource r, Path spool, long clampTo) throws IOException {
    FileChannel ch = FileChannel.open(spool, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
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
          e.devMajor(), e.devMinor(), pax), size, spools.get(i.spool()).channel(), i.offset());
    }
    w.finish();
  }

  private Map<String, Item> byPath;

  /**
   * A regular file's bytes (for a hard link, its first name's), or null when the tree has no
   * regular file at {@code path}; for the small files a build reads and edits.
   */
  public byte[] content(String path) throws IOException {
    if (byPath == null) {
      Map<String, Item> m = new java.util.HashMap<>(items.size() * 2);
      items.forEach(i -> m.put(i.entry().path(), i));
      byPath = m;
    }
    Item i = byPath.get(path);
    if (i != null && i.hardlinkTo() != null) {
      i = byPath.get(i.hardlinkTo());
    }
    if (i == null || i.entry().type() != TreeEntry.Type.FILE || i.offset() < 0) {
      return null;
    }
    if (i.entry().size() > Integer.MAX_VALUE - 16) {
      throw new IOException(path + " is too large to read whole (" + i.entry().size() + " bytes)");
    }
    ByteBuffer b = ByteBuffer.allocate((int) i.entry().size());
    FileChannel ch = spools.get(i.spool()).channel();
    while (b.hasRemaining()) {
      if (ch.read(b, i.offset() + b.position()) < 0) {
        throw new IOException("the tree's spool ends inside " + path);
      }
    }
    return b.array();
  }

  /** The tree's paths as a set (for checking what a partial read must cover). */
  public java.util.Set<String> paths() {
    java.util.Set<String> out = new java.util.HashSet<>(items.size() * 2);
    items.forEach(i -> out.add(i.entry().path()));
    return out;
  }

  /**
   * A tree made of {@code fresh} (a partial read of the image) and, for every other path of
   * {@code expected}, the entry of {@code cached} (an earlier read of the same files, which
   * {@code usable} says are unchanged since). Refuses, so that the caller reads everything, when
   * a path of {@code expected} is in neither, or when a hard link would join the two reads (its
   * names were not all changed together, which a file's ctime does not allow). The new tree
   * owns {@code fresh}'s spool and reads {@code cached}'s, which its owner keeps open meanwhile.
   */
  public static RootTree merge(RootTree cached, java.util.function.Predicate<String> usable, RootTree fresh,
      java.util.Set<String> expected) throws IOException {
    Map<String, Item> byPath = new java.util.HashMap<>(expected.size() * 2);
    for (Item i : fresh.items) {
      if (i.spool() != 0 || fresh.spools.size() != 1) {
        throw new IOException("a partial read must be a tree read from one tar stream");
      }
      byPath.put(i.entry().path(), i.inSpool(cached.spools.size()));
    }
    java.util.Set<String> fromFresh = new java.util.HashSet<>(byPath.keySet());
    for (Item i : cached.items) {
      String p = i.entry().path();
      if (!byPath.containsKey(p) && expected.contains(p) && usable.test(p)) {
        byPath.put(p, i);
      }
    }
    if (!byPath.keySet().equals(expected)) {
      List<String> missing = expected.stream().filter(p -> !byPath.containsKey(p)).sorted().limit(3).toList();
      List<String> extra = byPath.keySet().stream().filter(p -> !expected.contains(p)).sorted().limit(3).toList();
      throw new IOException("the partial read does not cover the image's paths (missing " + missing + ", not listed "
          + extra + ")");
    }
    for (Item i : byPath.values()) {
      if (i.hardlinkTo() != null && (!byPath.containsKey(i.hardlinkTo())
          || fromFresh.contains(i.entry().path()) != fromFresh.contains(i.hardlinkTo()))) {
        throw new IOException("the hard link " + i.entry().path() + " joins a changed and an unchanged name");
      }
    }
    List<Item> items = new ArrayList<>(byPath.values());
    items.sort((a, b) -> compareBytes(a.entry().path(), b.entry().path()));
    List<Spool> spools = new ArrayList<>();
    cached.spools.forEach(sp -> spools.add(new Spool(sp.file(), sp.channel(), false)));
    spools.add(fresh.spools.get(0));
    long bytes = 0;
    for (Item i : items) {
      if (i.offset() >= 0) {
        bytes += i.entry().size();
      }
    }
    return new RootTree(List.copyOf(spools), items, bytes);
  }

  private static final byte[] MAGIC = "assemble-root-tree 1\n".getBytes(StandardCharsets.US_ASCII);

  /**
   * Writes the tree into {@code dir} as {@code index} (every item, then {@code extra} paths the
   * caller keeps with it, then a sha256 of the spool and of the index itself) and {@code spool}
   * (a hard link to this tree's own spool when it has one on the same file system, else a copy).
   */
  public void save(Path dir, java.util.Collection<String> extra) throws IOException {
    Path spoolOut = dir.resolve("spool");
    List<Item> saved = new ArrayList<>(items);
    boolean linked = false;
    if (spools.size() == 1 && spools.get(0).owned()) {
      try {
        Files.createLink(spoolOut, spools.get(0).file());
        linked = true;
      } catch (IOException | UnsupportedOperationException e) {
        linked = false; // another file system: copied below
      }
    }
    if (!linked) {
      try (FileChannel out = FileChannel.open(spoolOut, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        long pos = 0;
        for (int k = 0; k < saved.size(); k++) {
          Item i = saved.get(k);
          if (i.offset() < 0) {
            continue;
          }
          FileChannel from = spools.get(i.spool()).channel();
          long n = i.entry().size();
          for (long done = 0; done < n; ) {
            done += from.transferTo(i.offset() + done, n - done, out);
          }
          saved.set(k, new Item(i.entry(), 0, pos, i.hardlinkTo(), i.acls()));
          pos += n;
        }
      }
    }
    byte[] spoolSha;
    try (FileChannel ch = FileChannel.open(spoolOut, StandardOpenOption.READ)) {
      spoolSha = sha256(ch);
    }
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.DataOutputStream out = new java.io.DataOutputStream(bytes)) {
      out.write(MAGIC);
      out.writeInt(saved.size());
      for (Item i : saved) {
        TreeEntry e = i.entry();
        out.writeUTF(e.path());
        out.writeByte(e.type().ordinal());
        out.writeInt(e.mode());
        out.writeLong(e.uid());
        out.writeLong(e.gid());
        out.writeLong(e.size());
        writeNullable(out, e.sha256());
        writeNullable(out, e.link());
        out.writeInt(e.devMajor());
        out.writeInt(e.devMinor());
        out.writeLong(e.mtime());
        out.writeInt(e.mtimeNanos());
        out.writeInt(e.nlink());
        writeBytesMap(out, e.xattrs());
        out.writeLong(i.offset());
        writeNullable(out, i.hardlinkTo());
        writeBytesMap(out, i.acls());
      }
      out.writeLong(spooled);
      out.writeInt(extra.size());
      for (String x : extra) {
        out.writeUTF(x);
      }
      out.write(spoolSha);
    }
    byte[] index = bytes.toByteArray();
    byte[] sealed = java.util.Arrays.copyOf(index, index.length + 32);
    System.arraycopy(sha256().digest(index), 0, sealed, index.length, 32);
    Files.write(dir.resolve("index"), sealed);
  }

  /** A tree read back by {@link #load}, with the extra paths saved beside it. */
  public record Saved(RootTree tree, java.util.Set<String> extra) {}

  /**
   * Reads a tree saved by {@link #save}, checking the index's and the spool's sha256 (an
   * IOException names a mismatch); the spool is read in place and never deleted by the tree.
   */
  public static Saved load(Path dir) throws IOException {
    byte[] sealed = Files.readAllBytes(dir.resolve("index"));
    if (sealed.length < MAGIC.length + 64) {
      throw new IOException("the saved tree's index is truncated");
    }
    byte[] index = java.util.Arrays.copyOf(sealed, sealed.length - 32);
    if (!java.util.Arrays.equals(sha256().digest(index), java.util.Arrays.copyOfRange(sealed, index.length,
        sealed.length))) {
      throw new IOException("the saved tree's index does not match its sha256");
    }
    List<Item> items = new ArrayList<>();
    java.util.Set<String> extra = new java.util.HashSet<>();
    byte[] spoolSha = new byte[32];
    long spooled;
    try (java.io.DataInputStream in = new java.io.DataInputStream(new java.io.ByteArrayInputStream(index))) {
      byte[] magic = in.readNBytes(MAGIC.length);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        throw new IOException("the saved tree's index is not in this assembler's format");
      }
      int n = in.readInt();
      for (int k = 0; k < n; k++) {
        String path = in.readUTF();
        TreeEntry.Type type = TreeEntry.Type.values()[in.readByte()];
        int mode = in.readInt();
        long uid = in.readLong();
        long gid = in.readLong();
        long size = in.readLong();
        String sha = readNullable(in);
        String link = readNullable(in);
        int major = in.readInt();
        int minor = in.readInt();
        long mtime = in.readLong();
        int nanos = in.readInt();
        int nlink = in.readInt();
        SortedMap<String, byte[]> xattrs = readBytesMap(in);
        long offset = in.readLong();
        String hardlinkTo = readNullable(in);
        SortedMap<String, byte[]> acls = readBytesMap(in);
        items.add(new Item(new TreeEntry(path, type, mode, uid, gid, size, sha, link, major, minor, mtime, nanos,
            nlink, xattrs), offset, hardlinkTo, acls));
      }
      spooled = in.readLong();
      int x = in.readInt();
      for (int k = 0; k < x; k++) {
        extra.add(in.readUTF());
      }
      in.readFully(spoolSha);
    } catch (java.io.EOFException | IndexOutOfBoundsException e) {
      throw new IOException("the saved tree's index is truncated or malformed", e);
    }
    Path spool = dir.resolve("spool");
    FileChannel ch = FileChannel.open(spool, StandardOpenOption.READ);
    try {
      if (!java.util.Arrays.equals(sha256(ch), spoolSha)) {
        throw new IOException("the saved tree's contents do not match their sha256");
      }
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
    return new Saved(new RootTree(List.of(new Spool(spool, ch, false)), items, spooled), extra);
  }

  /** sha256 of a whole file, read through its channel. */
  private static byte[] sha256(FileChannel ch) throws IOException {
    MessageDigest md = sha256();
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    for (long pos = 0; ch.read(buf, pos) > 0; ) {
      buf.flip();
      pos += buf.remaining();
      md.update(buf);
      buf.clear();
    }
    return md.digest();
  }

  private static void writeNullable(java.io.DataOutputStream out, String s) throws IOException {
    out.writeBoolean(s != null);
    if (s != null) {
      out.writeUTF(s);
    }
  }

  private static String readNullable(java.io.DataInputStream in) throws IOException {
    return in.readBoolean() ? in.readUTF() : null;
  }

  private static void writeBytesMap(java.io.DataOutputStream out, Map<String, byte[]> m) throws IOException {
    out.writeInt(m.size());
    for (Map.Entry<String, byte[]> e : new TreeMap<>(m).entrySet()) {
      out.writeUTF(e.getKey());
      out.writeInt(e.getValue().length);
      out.write(e.getValue());
    }
  }

  private static SortedMap<String, byte[]> readBytesMap(java.io.DataInputStream in) throws IOException {
    int n = in.readInt();
    SortedMap<String, byte[]> m = new TreeMap<>();
    for (int k = 0; k < n; k++) {
      String key = in.readUTF();
      int len = in.readInt();
      if (len < 0 || len > (1 << 24)) {
        throw new IOException("the saved tree's index has an attribute of " + len + " bytes");
      }
      m.put(key, in.readNBytes(len));
    }
    return m;
  }

  /** Closes every spool the tree reads and deletes the ones it owns (a loaded tree's stays). */
  @Override
  public void close() throws IOException {
    IOException first = null;
    for (Spool s : spools) {
      try {
        s.channel().close();
        if (s.owned()) {
          Files.deleteIfExists(s.file());
        }
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
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
