package io.hypervisor.assembler.tree;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What differs between two trees, path by path: added, removed, or changed with the fields that
 * changed (old and new value), in path order. Used by {@code assemble diff} when a rebuild does
 * not give the same bytes.
 */
public final class TreeDiff {
  /** One path that differs: "+" only in the second tree, "-" only in the first, "~" changed (with its fields). */
  public record Change(String kind, String path, Map<String, String[]> fields) {
    /** One line for people: {@code ~ ./etc/x: size 10 -> 12, sha256digest 1a2b… -> 3c4d…}. */
    public String describe() {
      String p = path.equals(".") ? "." : "./" + path;
      if (!kind.equals("~")) {
        return kind + " " + p;
      }
      List<String> parts = new ArrayList<>();
      fields.forEach((k, v) -> parts.add(k + " " + v[0] + " -> " + v[1]));
      return "~ " + p + ": " + String.join(", ", parts);
    }
  }

  private TreeDiff() {}

  public static List<Change> diff(List<TreeEntry> a, List<TreeEntry> b) {
    Map<String, TreeEntry> left = new TreeMap<>(RootTree::compareBytes);
    a.forEach(e -> left.put(e.path(), e));
    Map<String, TreeEntry> right = new TreeMap<>(RootTree::compareBytes);
    b.forEach(e -> right.put(e.path(), e));
    TreeSet<String> paths = new TreeSet<>(RootTree::compareBytes);
    paths.addAll(left.keySet());
    paths.addAll(right.keySet());
    List<Change> out = new ArrayList<>();
    for (String p : paths) {
      TreeEntry x = left.get(p);
      TreeEntry y = right.get(p);
      if (x == null) {
        out.add(new Change("+", p, Map.of()));
      } else if (y == null) {
        out.add(new Change("-", p, Map.of()));
      } else if (!x.sameAs(y)) {
        out.add(new Change("~", p, fields(x, y)));
      }
    }
    return out;
  }

  private static Map<String, String[]> fields(TreeEntry x, TreeEntry y) {
    Map<String, String[]> f = new LinkedHashMap<>();
    field(f, "type", x.type().mtree(), y.type().mtree());
    field(f, "uid", x.uid(), y.uid());
    field(f, "gid", x.gid(), y.gid());
    field(f, "mode", String.format("%04o", x.mode()), String.format("%04o", y.mode()));
    field(f, "size", x.size(), y.size());
    field(f, "sha256digest", x.sha256(), y.sha256());
    field(f, "link", x.link(), y.link());
    field(f, "device", x.devMajor() + "," + x.devMinor(), y.devMajor() + "," + y.devMinor());
    field(f, "time", x.mtime() + "." + String.format("%09d", x.mtimeNanos()),
        y.mtime() + "." + String.format("%09d", y.mtimeNanos()));
    field(f, "nlink", x.nlink(), y.nlink());
    TreeSet<String> keys = new TreeSet<>(x.xattrs().keySet());
    keys.addAll(y.xattrs().keySet());
    for (String k : keys) {
      byte[] u = x.xattrs().get(k);
      byte[] v = y.xattrs().get(k);
      if (!java.util.Arrays.equals(u, v)) {
        f.put("xattr." + k, new String[] {u == null ? "(none)" : Base64.getEncoder().encodeToString(u),
            v == null ? "(none)" : Base64.getEncoder().encodeToString(v)});
      }
    }
    return f;
  }

  private static void field(Map<String, String[]> f, String name, Object a, Object b) {
    if (!Objects.equals(a, b)) {
      f.put(name, new String[] {String.valueOf(a), String.valueOf(b)});
    }
  }
}
