package io.hypervisor.assembler.tree;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;

/**
 * The tree manifest in BSD mtree form (one line per path, sorted, every keyword spelled out, no
 * {@code /set}), so standard tools can read it (bsdtar, mtree) and a diff of two manifests is a
 * diff of two text files: {@code type uid gid mode size time sha256digest link device nlink} as
 * mtree defines them, plus {@code xattr.NAME=BASE64} per extended attribute. Paths and link
 * targets escape whitespace, {@code \ # =} and every byte outside printable ASCII as {@code \ooo},
 * as libarchive does.
 */
public final class Mtree {
  static final String HEADER = "#mtree v2.0\n";

  private Mtree() {}

  /** The manifest of these entries (sorted here, by path bytes). */
  public static byte[] write(List<TreeEntry> entries) {
    List<TreeEntry> sorted = new ArrayList<>(entries);
    sorted.sort((a, b) -> RootTree.compareBytes(a.path(), b.path()));
    StringBuilder s = new StringBuilder(HEADER);
    for (TreeEntry e : sorted) {
      s.append(e.path().equals(".") ? "." : "./" + escape(e.path()));
      s.append(" type=").append(e.type().mtree());
      s.append(" uid=").append(e.uid()).append(" gid=").append(e.gid());
      s.append(" mode=").append(String.format(Locale.ROOT, "%04o", e.mode()));
      if (e.type() == TreeEntry.Type.FILE) {
        s.append(" size=").append(e.size());
      }
      s.append(" time=").append(e.mtime()).append('.').append(String.format(Locale.ROOT, "%09d", e.mtimeNanos()));
      if (e.sha256() != null) {
        s.append(" sha256digest=").append(e.sha256());
      }
      if (e.link() != null) {
        s.append(" link=").append(escape(e.link()));
      }
      if (e.type() == TreeEntry.Type.CHAR || e.type() == TreeEntry.Type.BLOCK) {
        s.append(" device=native,").append(e.devMajor()).append(',').append(e.devMinor());
      }
      if (e.nlink() > 1) {
        s.append(" nlink=").append(e.nlink());
      }
      e.xattrs().forEach((k, v) -> s.append(" xattr.").append(escape(k)).append('=')
          .append(Base64.getEncoder().encodeToString(v)));
      s.append('\n');
    }
    return s.toString().getBytes(StandardCharsets.US_ASCII);
  }

  /** Reads a manifest this class wrote (other mtree files: only the keywords above). */
  public static List<TreeEntry> parse(byte[] text) throws IOException {
    List<TreeEntry> out = new ArrayList<>();
    String[] lines = new String(text, StandardCharsets.US_ASCII).split("\n");
    int n = 0;
    for (String line : lines) {
      n++;
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.trim().split("[ \t]+");
      String path = unescape(f[0]);
      if (path.equals(".")) {
        path = ".";
      } else if (path.startsWith("./")) {
        path = path.substring(2);
      } else {
        throw new IOException("mtree line " + n + ": a path not starting with ./: " + f[0]);
      }
      TreeEntry.Type type = null;
      int mode = 0;
      long uid = 0;
      long gid = 0;
      long size = 0;
      String sha = null;
      String link = null;
      int major = 0;
      int minor = 0;
      long sec = 0;
      int nanos = 0;
      int nlink = 1;
      TreeMap<String, byte[]> xattrs = new TreeMap<>();
      try {
        for (int i = 1; i < f.length; i++) {
          int eq = f[i].indexOf('=');
          if (eq < 0) {
            throw new IOException("mtree line " + n + ": keyword without value: " + f[i]);
          }
          String k = f[i].substring(0, eq);
          String v = f[i].substring(eq + 1);
          switch (k) {
            case "type" -> type = TreeEntry.Type.ofMtree(v);
            case "uid" -> uid = Long.parseLong(v);
            case "gid" -> gid = Long.parseLong(v);
            case "mode" -> mode = Integer.parseInt(v, 8);
            case "size" -> size = Long.parseLong(v);
            case "time" -> {
              long[] t = TarReader.time(v);
              sec = t[0];
              nanos = (int) t[1];
            }
            case "sha256digest", "sha256" -> sha = v;
            case "link" -> link = unescape(v);
            case "nlink" -> nlink = Integer.parseInt(v);
            case "device" -> {
              String[] d = v.split(",");
              major = Integer.parseInt(d[1]);
              minor = Integer.parseInt(d[2]);
            }
            default -> {
              if (k.startsWith("xattr.")) {
                xattrs.put(unescape(k.substring(6)), Base64.getDecoder().decode(v));
              }
            }
          }
        }
      } catch (IllegalArgumentException | ArrayIndexOutOfBoundsException e) {
        throw new IOException("mtree line " + n + ": " + e.getMessage(), e);
      }
      if (type == null) {
        throw new IOException("mtree line " + n + ": no type");
      }
      out.add(new TreeEntry(path, type, mode, uid, gid, size, sha, link, major, minor, sec, nanos, nlink, xattrs));
    }
    return out;
  }

  static String escape(String s) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
      int c = x & 0xff;
      if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' || c == '=') {
        b.append('\\').append((char) ('0' + (c >> 6))).append((char) ('0' + ((c >> 3) & 7)))
            .append((char) ('0' + (c & 7)));
      } else {
        b.append((char) c);
      }
    }
    return b.toString();
  }

  static String unescape(String s) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && isOctal(s, i + 1)) {
        b.write(((s.charAt(i + 1) - '0') << 6) | ((s.charAt(i + 2) - '0') << 3) | (s.charAt(i + 3) - '0'));
        i += 3;
      } else {
        b.write(c);
      }
    }
    return b.toString(StandardCharsets.UTF_8);
  }

  private static boolean isOctal(String s, int i) {
    if (i + 3 > s.length()) {
      return false;
    }
    for (int j = i; j < i + 3; j++) {
      if (s.charAt(j) < '0' || s.charAt(j) > '7') {
        return false;
      }
    }
    return true;
  }
}
