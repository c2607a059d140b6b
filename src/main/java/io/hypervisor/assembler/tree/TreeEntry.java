package io.hypervisor.assembler.tree;

import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One path of an image's root tree as the manifest describes it: type, owner, permissions, size
 * and sha256 (files), link target (symbolic links), device numbers, extended attributes and the
 * modification time. Paths are relative to the root without "./" ({@code "."} is the root);
 * {@code nlink} counts the names of a hard-linked file. Not kept: atime, ctime, inode numbers,
 * directory sizes, which a file system rebuilt from the tree chooses itself.
 */
public record TreeEntry(String path, Type type, int mode, long uid, long gid, long size, String sha256,
    String link, int devMajor, int devMinor, long mtime, int mtimeNanos, int nlink, SortedMap<String, byte[]> xattrs) {
  /** The kinds of path a root tree holds. */
  public enum Type {
    FILE("file"), DIR("dir"), LINK("link"), CHAR("char"), BLOCK("block"), FIFO("fifo");

    private final String mtree;

    Type(String mtree) {
      this.mtree = mtree;
    }

    /** The mtree keyword value. */
    public String mtree() {
      return mtree;
    }

    static Type ofMtree(String s) {
      for (Type t : values()) {
        if (t.mtree.equals(s)) {
          return t;
        }
      }
      throw new IllegalArgumentException("unknown mtree type " + s);
    }
  }

  public TreeEntry {
    xattrs = java.util.Collections.unmodifiableSortedMap(new TreeMap<>(xattrs));
  }

  /** The same entry with another time. */
  TreeEntry withTime(long sec, int nanos) {
    return new TreeEntry(path, type, mode, uid, gid, size, sha256, link, devMajor, devMinor, sec, nanos, nlink, xattrs);
  }

  /** The same entry with another link count. */
  TreeEntry withNlink(int n) {
    return new TreeEntry(path, type, mode, uid, gid, size, sha256, link, devMajor, devMinor, mtime, mtimeNanos, n, xattrs);
  }

  /** Equal metadata and content (byte arrays compared by value). */
  boolean sameAs(TreeEntry o) {
    if (!(path.equals(o.path) && type == o.type && mode == o.mode && uid == o.uid && gid == o.gid && size == o.size
        && java.util.Objects.equals(sha256, o.sha256) && java.util.Objects.equals(link, o.link)
        && devMajor == o.devMajor && devMinor == o.devMinor && mtime == o.mtime && mtimeNanos == o.mtimeNanos
        && nlink == o.nlink && xattrs.keySet().equals(o.xattrs.keySet()))) {
      return false;
    }
    for (Map.Entry<String, byte[]> e : xattrs.entrySet()) {
      if (!java.util.Arrays.equals(e.getValue(), o.xattrs.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }
}
