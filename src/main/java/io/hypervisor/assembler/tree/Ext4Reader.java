package io.hypervisor.assembler.tree;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads a cleanly unmounted ext4 file system from a byte range of a raw disk on the host, as a
 * {@link TreeSource} with what GNU tar's {@code --xattrs --numeric-owner} would give for it: every
 * path below the root with its type, permission bits, numeric owner, times with nanoseconds, every
 * extended attribute, device numbers, symlink targets, hard links and file contents (holes and
 * unwritten extents as zeros). Under TCG the appliance copies a root out at ~30 MB/s; this reads
 * it at the host's disk speed. Features it does not read (inline data, xattr inodes, encryption,
 * casefolding, meta_bg, a journal needing recovery) and POSIX ACLs (which tar renders as text)
 * are refused with {@link Unsupported}, so the caller can fall back to the appliance's tar.
 */
public final class Ext4Reader implements TreeSource, AutoCloseable {
  /** The file system uses something this reader does not read; the appliance's tar can. */
  public static final class Unsupported extends IOException {
    Unsupported(String message) {
      super(message);
    }
  }

  private static final int ROOT_INODE = 2;
  private static final int EXTENTS_FL = 0x80000;
  private static final int INLINE_DATA_FL = 0x10000000;
  private static final int EA_INODE_FL = 0x200000;
  // Incompatible features this reader understands: filetype, extents, 64bit, flex_bg, csum_seed, largedir.
  private static final long KNOWN_INCOMPAT = 0x2 | 0x40 | 0x80 | 0x200 | 0x2000 | 0x4000;
  private static final Map<Long, String> INCOMPAT_NAMES = Map.of(0x1L, "compression", 0x4L, "needs_recovery",
      0x8L, "journal_dev", 0x10L, "meta_bg", 0x100L, "mmp", 0x400L, "ea_inode", 0x1000L, "dirdata",
      0x8000L, "inline_data", 0x10000L, "encrypt", 0x20000L, "casefold");
  private static final Map<Integer, String> XATTR_PREFIX = Map.of(1, "user.", 4, "trusted.", 6, "security.");
  private static final int MAX_DEPTH = 4096;

  /** One inode's fields this reader uses. */
  private record Inode(int number, int mode, long uid, long gid, long size, long mtime, int mtimeNanos, int links,
      int flags, byte[] block, long fileAcl, long blocks, Map<String, byte[]> xattrs) {
    int type() {
      return mode & 0xF000;
    }
  }

  /** A run of a file's blocks: logical start, physical start (-1 for a hole or unwritten), length. */
  private record Run(long logical, long physical, long length) {}

  /** A header to give, with the inode whose bytes follow it (null but for a regular file's first name). */
  private record Entry(TarReader.Header header, Inode file) {}

  /** A directory still to list, with its path ("" for the root) and depth. */
  private record Pending(String path, int inode, int depth) {}

  private final FileChannel ch;
  private final long base;
  private final long length;
  private final int blockSize;
  private final int inodeSize;
  private final long inodesPerGroup;
  private final long inodeCount;
  private final int descSize;
  private final long gdtOffset;
  private final Deque<Pending> dirs = new ArrayDeque<>();
  private final Deque<Entry> ready = new ArrayDeque<>();
  private final Map<Integer, String> firstName = new HashMap<>();
  private final Map<Long, Long> inodeTables = new HashMap<>();
  private final Set<Integer> listed = new HashSet<>();
  private List<Run> runs = List.of();
  private long remaining;
  private long position;
  private boolean started;

  private Ext4Reader(FileChannel ch, long base, long length) throws IOException {
    this.ch = ch;
    this.base = base;
    this.length = length;
    ByteBuffer sb = read(1024, 1024);
    if ((sb.getShort(56) & 0xFFFF) != 0xEF53) {
      throw new Unsupported("no ext2/3/4 superblock at byte " + (base + 1024) + " of the disk");
    }
    long incompat = sb.getInt(96) & 0xFFFFFFFFL;
    long unknown = incompat & ~KNOWN_INCOMPAT;
    if (unknown != 0) {
      List<String> names = new ArrayList<>();
      for (long bit = 1; bit != 0 && bit <= unknown; bit <<= 1) {
        if ((unknown & bit) != 0) {
          names.add(INCOMPAT_NAMES.getOrDefault(bit, "0x" + Long.toHexString(bit)));
        }
      }
      throw new Unsupported("the ext4 file system has features this reader does not read: " + String.join(", ", names));
    }
    int logBlock = sb.getInt(24);
    if (logBlock < 0 || logBlock > 6) {
      throw new IOException("the superblock's block size (log " + logBlock + ") is not one ext4 uses");
    }
    blockSize = 1024 << logBlock;
    inodeSize = sb.getInt(76) == 0 ? 128 : sb.getShort(88) & 0xFFFF;
    if (inodeSize < 128 || inodeSize > blockSize || Integer.bitCount(inodeSize) != 1) {
      throw new IOException("the superblock's inode size " + inodeSize + " is not one ext4 uses");
    }
    inodesPerGroup = sb.getInt(40) & 0xFFFFFFFFL;
    inodeCount = sb.getInt(0) & 0xFFFFFFFFL;
    if (inodesPerGroup == 0) {
      throw new IOException("the superblock says 0 inodes per group");
    }
    boolean wide = (incompat & 0x80) != 0;
    descSize = wide ? sb.getShort(254) & 0xFFFF : 32;
    if (descSize < 32 || descSize > blockSize) {
      throw new IOException("the superblock's group descriptor size " + descSize + " is not one ext4 uses");
    }
    gdtOffset = ((sb.getInt(20) & 0xFFFFFFFFL) + 1) * blockSize;
  }

  /**
   * Opens the ext4 file system at bytes [offset, offset + length) of a raw disk image (closed:
   * nothing may write it meanwhile).
   */
  public static Ext4Reader open(Path raw, long offset, long length) throws IOException {
    FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ);
    try {
      if (offset < 0 || length < 4096 || offset + length > ch.size()) {
        throw new IOException(raw + " has no byte range [" + offset + ", " + (offset + length) + ")");
      }
      return new Ext4Reader(ch, offset, length);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /**
   * The tree of the ext4 file system at that byte range, read into a {@link RootTree} as
   * {@link RootTree#read(TreeSource, Path, long)} would from the appliance's tar of it.
   */
  public static RootTree tree(Path raw, long offset, long length, Path spool, long clampTo) throws IOException {
    try (Ext4Reader r = open(raw, offset, length)) {
      return RootTree.read(r, spool, clampTo);
    }
  }

  @Override
  public TarReader.Header next() throws IOException {
    remaining = 0;
    if (!started) {
      started = true;
      Inode root = inode(ROOT_INODE);
      if (root.type() != 0x4000) {
        throw new IOException("inode 2 of the ext4 file system is not a directory");
      }
      dirs.push(new Pending("", ROOT_INODE, 0));
      return header(".", root, null).header();
    }
    while (ready.isEmpty() && !dirs.isEmpty()) {
      list(dirs.pop());
    }
    Entry e = ready.poll();
    if (e == null) {
      return null;
    }
    if (e.file() != null) {
      runs = runs(e.file());
      remaining = e.file().size();
      position = 0;
    }
    return e.header();
  }

  @Override
  public int data(byte[] buf, int off, int n) throws IOException {
    if (remaining == 0) {
      return -1;
    }
    int want = (int) Math.min(n, remaining);
    long logical = position / blockSize;
    int within = (int) (position % blockSize);
    int k = runAt(logical);
    Run run = k >= 0 && logical < runs.get(k).logical() + runs.get(k).length() ? runs.get(k) : null;
    long runEnd = run != null ? run.logical() + run.length()
        : k + 1 < runs.size() ? runs.get(k + 1).logical() : Long.MAX_VALUE / (2L * blockSize);
    int got = (int) Math.min(want, runEnd * blockSize - position);
    if (run == null || run.physical() < 0) {
      java.util.Arrays.fill(buf, off, off + got, (byte) 0);
    } else {
      long at = (run.physical() + (logical - run.logical())) * blockSize + within;
      ByteBuffer b = ByteBuffer.wrap(buf, off, got);
      readFully(b, at);
    }
    position += got;
    remaining -= got;
    return got;
  }

  /** The index of the last run starting at or before {@code logical} (-1 for none): runs are sorted. */
  private int runAt(long logical) {
    int lo = 0;
    int hi = runs.size() - 1;
    int found = -1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (runs.get(mid).logical() <= logical) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Lists one directory: its entries become headers (files carry their inode for {@link #data}). */
  private void list(Pending dir) throws IOException {
    if (!listed.add(dir.inode())) {
      throw new IOException("directory inode " + dir.inode() + " is reached twice (/" + dir.path() + ")");
    }
    if (dir.depth() > MAX_DEPTH) {
      throw new IOException("directories nest deeper than " + MAX_DEPTH + " at /" + dir.path());
    }
    Inode d = inode(dir.inode());
    byte[] content = readAll(d);
    ByteBuffer e = ByteBuffer.wrap(content).order(ByteOrder.LITTLE_ENDIAN);
    List<Pending> subdirs = new ArrayList<>();
    for (int blockStart = 0; blockStart + blockSize <= content.length; blockStart += blockSize) {
      int pos = blockStart;
      int end = blockStart + blockSize;
      while (pos + 8 <= end) {
        int ino = e.getInt(pos);
        int recLen = e.getShort(pos + 4) & 0xFFFF;
        int nameLen = content[pos + 6] & 0xFF;
        if (blockSize == 65536 && (recLen == 0 || recLen == 65535)) {
          recLen = 65536;
        }
        if (recLen < 8 || pos + recLen > end || nameLen + 8 > recLen) {
          throw new IOException("directory /" + dir.path() + " (inode " + dir.inode() + ") has a broken entry at byte "
              + pos);
        }
        if (ino != 0) {
          String name = new String(content, pos + 8, nameLen, StandardCharsets.UTF_8);
          if (!name.equals(".") && !name.equals("..")) {
            if (name.isEmpty() || name.contains("/")) {
              throw new IOException("directory /" + dir.path() + " holds an entry named '" + name + "'");
            }
            String path = dir.path().isEmpty() ? name : dir.path() + "/" + name;
            if (ino < 1 || (ino & 0xFFFFFFFFL) > inodeCount) {
              throw new IOException("/" + path + " names inode " + (ino & 0xFFFFFFFFL) + ", beyond the file system's "
                  + inodeCount);
            }
            Inode child = inode(ino);
            switch (child.type()) {
              case 0x4000 -> {
                ready.add(header(path, child, null));
                subdirs.add(new Pending(path, ino, dir.depth() + 1));
              }
              case 0xC000 -> {
                // a socket: GNU tar leaves it out ("socket ignored"), and so does the tree
              }
              default -> {
                String first = child.type() == 0x8000 && child.links() > 1 ? firstName.putIfAbsent(ino, path) : null;
                ready.add(header(path, child, first));
              }
            }
          }
        }
        pos += recLen;
      }
    }
    // Depth first, in each directory's own order: a hard link's first name is always given first.
    for (int i = subdirs.size() - 1; i >= 0; i--) {
      dirs.push(subdirs.get(i));
    }
  }

  private Entry header(String path, Inode i, String hardlinkTo) throws IOException {
    String name = path.equals(".") ? "./" : "./" + path;
    int perm = i.mode() & 07777;
    if (hardlinkTo != null) {
      return new Entry(new TarReader.Header(name, '1', perm, i.uid(), i.gid(), 0, i.mtime(), i.mtimeNanos(),
          "./" + hardlinkTo, 0, 0, i.xattrs(), Map.of()), null);
    }
    char type;
    String link = null;
    int major = 0;
    int minor = 0;
    switch (i.type()) {
      case 0x8000 -> type = '0';
      case 0x4000 -> type = '5';
      case 0xA000 -> {
        type = '2';
        link = symlink(i, path);
      }
      case 0x2000, 0x6000 -> {
        type = i.type() == 0x2000 ? '3' : '4';
        ByteBuffer b = ByteBuffer.wrap(i.block()).order(ByteOrder.LITTLE_ENDIAN);
        int old = b.getInt(0);
        if (old != 0) {
          major = (old >> 8) & 0xFF;
          minor = old & 0xFF;
        } else {
          int dev = b.getInt(4);
          major = (dev & 0xFFF00) >> 8;
          minor = (dev & 0xFF) | ((dev >> 12) & 0xFFF00);
        }
      }
      case 0x1000 -> type = '6';
      default -> throw new IOException("/" + path + " (inode " + i.number() + ") has file type 0"
          + Integer.toOctalString(i.type() >> 12) + ", which ext4 does not have");
    }
    return new Entry(new TarReader.Header(name, type, perm, i.uid(), i.gid(), type == '0' ? i.size() : 0, i.mtime(),
        i.mtimeNanos(), link, major, minor, i.xattrs(), Map.of()), type == '0' ? i : null);
  }

  private String symlink(Inode i, String path) throws IOException {
    if (i.size() > 4096 || i.size() <= 0) {
      throw new IOException("/" + path + " is a symlink of " + i.size() + " bytes");
    }
    long eaBlocks = i.fileAcl() != 0 ? blockSize / 512 : 0;
    byte[] target;
    if ((i.flags() & EXTENTS_FL) == 0 && i.size() < 60 && i.blocks() - eaBlocks == 0) {
      target = java.util.Arrays.copyOf(i.block(), (int) i.size()); // a fast symlink: the target is in i_block
    } else {
      target = java.util.Arrays.copyOf(readAll(i), (int) i.size());
    }
    return new String(target, StandardCharsets.UTF_8);
  }

  /** A whole inode's content (directories and slow symlinks: small). */
  private byte[] readAll(Inode i) throws IOException {
    long size = i.type() == 0x4000 ? i.size() : Math.min(i.size(), blockSize);
    if (size > (64L << 20)) {
      throw new IOException("inode " + i.number() + " is a directory of " + size + " bytes");
    }
    byte[] out = new byte[(int) size];
    for (Run r : runs(i)) {
      for (long b = 0; b < r.length(); b++) {
        long at = (r.logical() + b) * blockSize;
        if (at >= size) {
          break;
        }
        int n = (int) Math.min(blockSize, size - at);
        if (r.physical() >= 0) {
          readFully(ByteBuffer.wrap(out, (int) at, n), (r.physical() + b) * blockSize);
        }
      }
    }
    return out;
  }

  /** An inode's block runs, from its extent tree or its classic block map. */
  private List<Run> runs(Inode i) throws IOException {
    if ((i.flags() & INLINE_DATA_FL) != 0) {
      throw new Unsupported("inode " + i.number() + " keeps its data inline (inline_data)");
    }
    List<Run> out = new ArrayList<>();
    if ((i.flags() & EXTENTS_FL) != 0) {
      extents(ByteBuffer.wrap(i.block()).order(ByteOrder.LITTLE_ENDIAN), i, 0, out);
    } else {
      ByteBuffer b = ByteBuffer.wrap(i.block()).order(ByteOrder.LITTLE_ENDIAN);
      long[] next = {0};
      for (int k = 0; k < 12; k++) {
        mapped(b.getInt(k * 4) & 0xFFFFFFFFL, 0, next, out, i);
      }
      mapped(b.getInt(48) & 0xFFFFFFFFL, 1, next, out, i);
      mapped(b.getInt(52) & 0xFFFFFFFFL, 2, next, out, i);
      mapped(b.getInt(56) & 0xFFFFFFFFL, 3, next, out, i);
    }
    out.sort(java.util.Comparator.comparingLong(Run::logical));
    return out;
  }

  /** One pointer of a classic block map, {@code level} levels of indirection above data. */
  private void mapped(long block, int level, long[] next, List<Run> out, Inode i) throws IOException {
    long perBlock = blockSize / 4;
    long span = 1;
    for (int k = 0; k < level; k++) {
      span *= perBlock;
    }
    long fileBlocks = (i.size() + blockSize - 1) / blockSize;
    if (next[0] >= fileBlocks) {
      return;
    }
    if (block == 0) {
      next[0] += span; // a hole
      return;
    }
    checkBlock(block, i.number());
    if (level == 0) {
      out.add(new Run(next[0]++, block, 1));
      return;
    }
    ByteBuffer b = read(block * blockSize, blockSize);
    for (int k = 0; k < perBlock; k++) {
      mapped(b.getInt(k * 4) & 0xFFFFFFFFL, level - 1, next, out, i);
    }
  }

  private void extents(ByteBuffer node, Inode i, int level, List<Run> out) throws IOException {
    if ((node.getShort(0) & 0xFFFF) != 0xF30A) {
      throw new IOException("inode " + i.number() + " has a broken extent tree (no header magic)");
    }
    int entries = node.getShort(2) & 0xFFFF;
    int depth = node.getShort(6) & 0xFFFF;
    if (depth > 5 || level > 5 || 12 + entries * 12 > node.capacity()) {
      throw new IOException("inode " + i.number() + " has a broken extent tree (depth " + depth + ", " + entries
          + " entries)");
    }
    for (int k = 0; k < entries; k++) {
      int at = 12 + k * 12;
      long logical = node.getInt(at) & 0xFFFFFFFFL;
      if (depth == 0) {
        int len = node.getShort(at + 4) & 0xFFFF;
        boolean unwritten = len > 32768;
        if (unwritten) {
          len -= 32768;
        }
        long start = ((long) (node.getShort(at + 6) & 0xFFFF) << 32) | (node.getInt(at + 8) & 0xFFFFFFFFL);
        checkBlock(start, i.number());
        checkBlock(start + Math.max(len, 1) - 1, i.number());
        out.add(new Run(logical, unwritten ? -1 : start, len));
      } else {
        long child = (node.getInt(at + 4) & 0xFFFFFFFFL) | ((long) (node.getShort(at + 8) & 0xFFFF) << 32);
        checkBlock(child, i.number());
        extents(read(child * blockSize, blockSize), i, level + 1, out);
      }
    }
  }

  private void checkBlock(long block, int inode) throws IOException {
    if (block < 0 || (block + 1) * blockSize > length) {
      throw new IOException("inode " + (inode & 0xFFFFFFFFL) + " points at block " + block
          + ", outside the file system");
    }
  }

  private Inode inode(int number) throws IOException {
    long index = (number & 0xFFFFFFFFL) - 1;
    long table = inodeTable(index / inodesPerGroup);
    ByteBuffer b = read(table * blockSize + (index % inodesPerGroup) * inodeSize, inodeSize);
    int mode = b.getShort(0) & 0xFFFF;
    long uid = (b.getShort(2) & 0xFFFF) | ((long) (b.getShort(120) & 0xFFFF) << 16);
    long gid = (b.getShort(24) & 0xFFFF) | ((long) (b.getShort(122) & 0xFFFF) << 16);
    long size = (b.getInt(4) & 0xFFFFFFFFL) | ((long) b.getInt(108) << 32);
    long mtime = b.getInt(16); // signed: times before 1970
    int nanos = 0;
    int extra = inodeSize > 128 ? b.getShort(128) & 0xFFFF : 0;
    if (extra >= 12 && 128 + extra <= inodeSize) {
      int mtimeExtra = b.getInt(136);
      mtime += (long) (mtimeExtra & 3) << 32;
      nanos = mtimeExtra >>> 2;
    }
    int flags = b.getInt(32);
    if ((flags & EA_INODE_FL) != 0) {
      throw new Unsupported("inode " + number + " is an extended attribute inode (ea_inode)");
    }
    byte[] block = new byte[60];
    b.get(40, block);
    long fileAcl = (b.getInt(104) & 0xFFFFFFFFL) | ((long) (b.getShort(118) & 0xFFFF) << 32);
    long blocks = (b.getInt(28) & 0xFFFFFFFFL) | ((long) (b.getShort(116) & 0xFFFF) << 32);
    Map<String, byte[]> xattrs = new TreeMap<>();
    if (extra > 0 && 128 + extra + 4 <= inodeSize && b.getInt(128 + extra) == 0xEA020000) {
      int first = 128 + extra + 4;
      xattrEntries(b, first, first, inodeSize, number, xattrs);
    }
    if (fileAcl != 0) {
      checkBlock(fileAcl, number);
      ByteBuffer x = read(fileAcl * blockSize, blockSize);
      if (x.getInt(0) != 0xEA020000) {
        throw new IOException("inode " + number + "'s extended attribute block " + fileAcl + " has no header magic");
      }
      xattrEntries(x, 32, 0, blockSize, number, xattrs);
    }
    return new Inode(number, mode, uid, gid, size, mtime, nanos, b.getShort(26) & 0xFFFF, flags, block, fileAcl,
        blocks, xattrs);
  }

  /** Where a group's inode table starts (blocks), read from its descriptor once. */
  private long inodeTable(long group) throws IOException {
    Long table = inodeTables.get(group);
    if (table == null) {
      ByteBuffer desc = read(gdtOffset + group * descSize, descSize);
      table = (desc.getInt(8) & 0xFFFFFFFFL) | (descSize >= 64 ? (desc.getInt(0x28) & 0xFFFFFFFFL) << 32 : 0);
      inodeTables.put(group, table);
    }
    return table;
  }

  /** Entries from {@code at} up to the 4 zero bytes ending them; values at {@code valueBase} + their offset. */
  private static void xattrEntries(ByteBuffer b, int at, int valueBase, int end, int inode, Map<String, byte[]> out)
      throws IOException {
    while (at + 4 <= end && b.getInt(at) != 0) {
      if (at + 16 > end) {
        throw new IOException("inode " + inode + " has a broken extended attribute entry");
      }
      int nameLen = b.get(at) & 0xFF;
      int index = b.get(at + 1) & 0xFF;
      int valueOffs = b.getShort(at + 2) & 0xFFFF;
      int valueInum = b.getInt(at + 4);
      int valueSize = b.getInt(at + 8);
      if (at + 16 + nameLen > end) {
        throw new IOException("inode " + inode + " has a broken extended attribute name");
      }
      byte[] suffix = new byte[nameLen];
      b.get(at + 16, suffix);
      String prefix = switch (index) {
        case 2, 3 -> throw new Unsupported("inode " + inode + " carries a POSIX ACL");
        case 7 -> "system.";
        default -> XATTR_PREFIX.get(index);
      };
      if (prefix == null) {
        throw new Unsupported("inode " + inode + " carries an extended attribute of name index " + index);
      }
      String name = prefix + new String(suffix, StandardCharsets.UTF_8);
      if (valueInum != 0) {
        throw new Unsupported("inode " + inode + "'s attribute " + name + " is kept in an inode (ea_inode)");
      }
      if (name.equals("system.data")) {
        throw new Unsupported("inode " + inode + " keeps its data inline (system.data)");
      }
      if (valueSize < 0 || valueBase + valueOffs + (long) valueSize > end) {
        throw new IOException("inode " + inode + "'s attribute " + name + " lies outside its block");
      }
      byte[] value = new byte[valueSize];
      b.get(valueBase + valueOffs, value);
      out.put(name, value);
      at += (16 + nameLen + 3) & ~3;
    }
  }

  private ByteBuffer read(long at, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    readFully(b, at);
    b.flip();
    return b.order(ByteOrder.LITTLE_ENDIAN);
  }

  private void readFully(ByteBuffer b, long at) throws IOException {
    if (at < 0 || at + b.remaining() > length) {
      throw new IOException("a read at byte " + at + " of the file system goes past its " + length + " bytes");
    }
    long pos = base + at;
    while (b.hasRemaining()) {
      int n = ch.read(b, pos);
      if (n < 0) {
        throw new IOException("the disk ends at byte " + pos + ", inside the file system");
      }
      pos += n;
    }
  }

  @Override
  public void close() throws IOException {
    ch.close();
  }
}
