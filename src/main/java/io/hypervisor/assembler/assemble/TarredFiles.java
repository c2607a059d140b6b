package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.tree.TarReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The image's files below a few directories, each copied out in one tar stream: a libguestfs
 * call per file and listing costs ~60 ms under TCG (the package configuration walk took 2 s for
 * 26 files). Answers as the session does: a path is resolved through the image's links; a file
 * reads its bytes, anything else null; a directory lists its sorted names. What resolves outside
 * those directories (or a session that cannot stream tars) is asked of the session itself.
 */
final class TarredFiles implements ImageFiles {
  private static final int MAX_LINKS = 40;

  private final ImageFiles session;
  private final List<String> roots = new ArrayList<>();
  private final Map<String, byte[]> files = new HashMap<>();
  private final Map<String, String> links = new HashMap<>();
  private final Map<String, TreeSet<String>> dirs = new TreeMap<>();

  private TarredFiles(ImageFiles session) {
    this.session = session;
  }

  /** The files below {@code dirs} (absolute), copied out of {@code image} now. */
  static ImageFiles of(ImageSession image, List<String> dirs) throws IOException {
    TarredFiles t = new TarredFiles(new SessionFiles(image));
    for (String dir : dirs) {
      try {
        image.tarOut(dir, in -> t.read(dir, new TarReader(in)));
        t.roots.add(dir);
      } catch (IOException e) {
        // missing, not a directory, or a session that cannot stream: the session answers for it
        t.dirs.keySet().removeIf(d -> d.equals(dir) || d.startsWith(dir + "/"));
        t.files.keySet().removeIf(d -> d.startsWith(dir + "/"));
        t.links.keySet().removeIf(d -> d.startsWith(dir + "/"));
      }
    }
    return t;
  }

  private void read(String root, TarReader tar) throws IOException {
    dirs.put(root, new TreeSet<>());
    for (TarReader.Header h = tar.next(); h != null; h = tar.next()) {
      String rel = h.path().replaceFirst("^\\./?", "").replaceFirst("/$", "");
      if (rel.isEmpty()) {
        continue;
      }
      String path = root + "/" + rel;
      dirs.computeIfAbsent(parent(path), k -> new TreeSet<>()).add(path.substring(path.lastIndexOf('/') + 1));
      switch (h.type()) {
        case '0', '\0', '7' -> {
          ByteArrayOutputStream b = new ByteArrayOutputStream((int) Math.min(h.size(), 1 << 20));
          byte[] buf = new byte[8192];
          for (int n = tar.data(buf, 0, buf.length); n > 0; n = tar.data(buf, 0, buf.length)) {
            b.write(buf, 0, n);
          }
          files.put(path, b.toByteArray());
        }
        case '1' -> files.put(path, files.get(root + "/" + h.link().replaceFirst("^\\./?", "")));
        case '2' -> links.put(path, h.link());
        case '5' -> dirs.computeIfAbsent(path, k -> new TreeSet<>());
        default -> { } // devices, FIFOs: neither a file nor a directory
      }
    }
  }

  @Override
  public byte[] read(String path) throws IOException {
    String p = resolved(path);
    if (p == null) {
      return session.read(path);
    }
    return files.get(p);
  }

  @Override
  public List<String> list(String dir) throws IOException {
    String p = resolved(dir);
    if (p == null) {
      return session.list(dir);
    }
    TreeSet<String> names = dirs.get(p);
    return names == null ? List.of() : List.copyOf(names);
  }

  /**
   * The path with every link on the way followed, when it stays below the copied directories;
   * null when it leaves them (or loops), so the session answers.
   */
  private String resolved(String path) {
    List<String> todo = new ArrayList<>(List.of(path.split("/")));
    List<String> done = new ArrayList<>();
    int hops = 0;
    while (!todo.isEmpty()) {
      String c = todo.remove(0);
      if (c.isEmpty() || c.equals(".")) {
        continue;
      }
      if (c.equals("..")) {
        if (!done.isEmpty()) {
          done.remove(done.size() - 1);
        }
        continue;
      }
      done.add(c);
      String at = "/" + String.join("/", done);
      String link = links.get(at);
      if (link != null) {
        if (++hops > MAX_LINKS) {
          return null;
        }
        done.remove(done.size() - 1);
        if (link.startsWith("/")) {
          done.clear();
        }
        todo.addAll(0, List.of(link.split("/")));
      }
    }
    String p = "/" + String.join("/", done);
    return below(p) ? p : null;
  }

  private boolean below(String p) {
    return roots.stream().anyMatch(r -> p.equals(r) || p.startsWith(r + "/"));
  }

  private static String parent(String path) {
    int i = path.lastIndexOf('/');
    return i <= 0 ? "/" : path.substring(0, i);
  }
}
