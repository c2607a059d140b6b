package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.guestfs.ProgressStream;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.tree.RootTree;
import io.hypervisor.assembler.tree.TarReader;
import io.hypervisor.assembler.tree.TreeEntry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
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
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A root file system as its tree, read on the host, changed in memory as the appliance would
 * change the disk: the file operations of the steps that follow a step cache layer (files
 * written, directories made, links, removals, a tar unpacked), each leaving the times the tree
 * step's clamp would (the build's epoch on what changed, and on a directory whose entries did).
 * What it cannot do the way the appliance does (a command, a hard-linked file changed, a path on
 * another file system, a symbolic link where tar or ln would descend) throws {@link NeedsAppliance}
 * and the build runs in the appliance instead. A verify's binary versions come from a record of
 * the same script's run on the same binaries ({@code recorded}).
 */
final class TreeImage implements ImageSession {
  /** What only the appliance does; the build takes the appliance path instead. */
  static final class NeedsAppliance extends IOException {
    NeedsAppliance(String message) {
      super(message);
    }
  }

  /** Bytes of a file this image wrote, in its spool. */
  private record Content(long offset, long size) {}

  private final RootTree base;
  private final EventSink events;
  private final OsInfo os;
  private final long epoch;
  private final Map<String, String> recorded;
  private final Path spoolFile;
  private final FileChannel spool;
  private long spoolEnd;
  private final Map<String, TreeEntry> entries = new HashMap<>();
  private final Map<String, TreeSet<String>> children = new HashMap<>();
  private final Map<String, Content> written = new HashMap<>();
  private final Set<String> touched = new HashSet<>();
  private final List<String> otherMounts = new ArrayList<>();

  /**
   * Over {@code base} (read from the root file system of the image {@code os} describes);
   * {@code recorded}: script → output of earlier runs of the verify's scripts on these binaries.
   */
  TreeImage(RootTree base, OsInfo os, long epoch, Map<String, String> recorded, Path work, EventSink events)
      throws IOException {
    this.base = base;
    this.events = events;
    this.os = os;
    this.epoch = epoch;
    this.recorded = Map.copyOf(recorded);
    this.spoolFile = work.resolve("tree-image.spool");
    this.spool = FileChannel.open(spoolFile, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    for (TreeEntry e : base.entries()) {
      entries.put(e.path(), e);
      if (!e.path().equals(".")) {
        children.computeIfAbsent(parent(e.path()), k -> new TreeSet<>()).add(name(e.path()));
      }
    }
    for (String mp : os.mountpoints().keySet()) {
      if (!os.rootMounts().contains(mp)) {
        otherMounts.add(mp.substring(1));
      }
    }
  }

  @Override
  public OsInfo os() {
    return os;
  }

  // ---- paths

  private static String parent(String p) {
    int i = p.lastIndexOf('/');
    return i < 0 ? "." : p.substring(0, i);
  }

  private static String name(String p) {
    return p.substring(p.lastIndexOf('/') + 1);
  }

  private static String join(String dir, String name) {
    return dir.equals(".") ? name : dir + "/" + name;
  }

  private static Deque<String> components(String path) {
    Deque<String> out = new ArrayDeque<>();
    for (String c : path.split("/")) {
      if (!c.isEmpty()) {
        out.add(c);
      }
    }
    return out;
  }

  /**
   * The tree path an absolute path names, symbolic links followed (the last one only with
   * {@code followLast}), inside the root as libguestfs resolves them; null when a component is
   * missing.
   */
  private String resolve(String abs, boolean followLast) throws NeedsAppliance {
    Deque<String> todo = components(abs);
    String cur = ".";
    int links = 0;
    while (!todo.isEmpty()) {
      String c = todo.pollFirst();
      if (c.equals(".")) {
        continue;
      }
      if (c.equals("..")) {
        cur = parent(cur);
        continue;
      }
      TreeEntry d = entries.get(cur);
      if (d == null || d.type() != TreeEntry.Type.DIR) {
        return null;
      }
      String next = join(cur, c);
      TreeEntry e = entries.get(next);
      if (e == null) {
        return null;
      }
      if (e.type() == TreeEntry.Type.LINK && (!todo.isEmpty() || followLast)) {
        if (++links > 40) {
          throw new NeedsAppliance("too many symbolic links in " + abs);
        }
        Deque<String> target = components(e.link());
        while (!target.isEmpty()) {
          todo.addFirst(target.pollLast());
        }
        if (e.link().startsWith("/")) {
          cur = ".";
        }
        continue;
      }
      cur = next;
      onRoot(cur, abs);
    }
    return cur;
  }

  /** Refuses a path on another file system than the root's (the ESP, a separate /boot). */
  private void onRoot(String path, String abs) throws NeedsAppliance {
    for (String m : otherMounts) {
      if (path.equals(m) || path.startsWith(m + "/")) {
        throw new NeedsAppliance(abs + " is on " + os.mountpoints().get("/" + m) + ", not the root file system");
      }
    }
  }

  /** The existing directory a new name goes into and that name; null when the parent is missing. */
  private String[] parentAndName(String abs) throws NeedsAppliance {
    Deque<String> c = components(abs);
    if (c.isEmpty()) {
      return null;
    }
    String last = c.pollLast();
    String dir = resolve("/" + String.join("/", c), true);
    if (dir == null || entries.get(dir).type() != TreeEntry.Type.DIR || last.equals(".") || last.equals("..")) {
      return null;
    }
    return new String[] {dir, last};
  }

  // ---- changes

  private TreeEntry timed(TreeEntry e) {
    return new TreeEntry(e.path(), e.type(), e.mode(), e.uid(), e.gid(), e.size(), e.sha256(), e.link(), e.devMajor(),
        e.devMinor(), epoch, 0, e.nlink(), e.xattrs());
  }

  /** A directory whose entries changed gets the clamped time of its change. */
  private void dirChanged(String dir) {
    entries.put(dir, timed(entries.get(dir)));
    touched.add(dir);
  }

  private void put(TreeEntry e) {
    boolean added = !entries.containsKey(e.path());
    entries.put(e.path(), e);
    touched.add(e.path());
    if (added) {
      children.computeIfAbsent(parent(e.path()), k -> new TreeSet<>()).add(name(e.path()));
      dirChanged(parent(e.path()));
    }
  }

  private void unlink(String path) throws NeedsAppliance {
    TreeEntry e = entries.get(path);
    if (e.nlink() > 1) {
      throw new NeedsAppliance("/" + path + " has hard links");
    }
    for (String c : new ArrayList<>(children.getOrDefault(path, new TreeSet<>()))) {
      unlink(join(path, c));
    }
    entries.remove(path);
    children.remove(path);
    touched.remove(path);
    written.remove(path);
    children.get(parent(path)).remove(name(path));
  }

  private Content store(byte[] data) throws IOException {
    long at = spoolEnd;
    ByteBuffer b = ByteBuffer.wrap(data);
    while (b.hasRemaining()) {
      spoolEnd += spool.write(b, spoolEnd);
    }
    return new Content(at, data.length);
  }

  private TreeEntry file(String path, int mode, long uid, long gid, Content c, String sha, long mtime, int nanos,
      java.util.SortedMap<String, byte[]> xattrs) {
    return new TreeEntry(path, TreeEntry.Type.FILE, mode, uid, gid, c.size(), sha, null, 0, 0, mtime, nanos, 1, xattrs);
  }

  @Override
  public void write(String path, byte[] content, int mode) throws IOException {
    mkdirs(path.substring(0, Math.max(1, path.lastIndexOf('/'))));
    String at = resolve(path, true);
    Content c = store(content);
    String sha = Digest.sha256(content).encoded();
    if (at != null) {
      TreeEntry e = entries.get(at);
      if (e.type() != TreeEntry.Type.FILE || e.nlink() > 1) {
        throw new NeedsAppliance("writing " + path + ": a " + e.type() + (e.nlink() > 1 ? " with hard links" : ""));
      }
      // O_TRUNC keeps the inode: its owner and extended attributes stay, chmod sets the mode
      entries.put(at, file(at, mode & 07777, e.uid(), e.gid(), c, sha, epoch, 0, e.xattrs()));
      touched.add(at);
      written.put(at, c);
      return;
    }
    String[] pn = parentAndName(path);
    if (pn == null) {
      throw new NeedsAppliance("writing " + path + ": its directory is not there");
    }
    String p = join(pn[0], pn[1]);
    onRoot(p, path);
    if (entries.containsKey(p)) { // a dangling link: the appliance would create its target
      throw new NeedsAppliance("writing " + path + " through a link to nothing");
    }
    put(file(p, mode & 07777, 0, 0, c, sha, epoch, 0, new TreeMap<>()));
    written.put(p, c);
  }

  @Override
  public void mkdirs(String path) throws IOException {
    String cur = "/";
    for (String c : components(path)) {
      String next = cur.equals("/") ? "/" + c : cur + "/" + c;
      String at = resolve(next, true);
      if (at == null) {
        String[] pn = parentAndName(next);
        if (pn == null) {
          throw new NeedsAppliance("creating " + path);
        }
        String p = join(pn[0], pn[1]);
        onRoot(p, path);
        if (entries.containsKey(p)) { // a dangling symbolic link: mkdir fails in the appliance too
          throw new NeedsAppliance("creating " + path + ": " + p + " is in the way");
        }
        put(new TreeEntry(p, TreeEntry.Type.DIR, 0755, 0, 0, 0, null, null, 0, 0, epoch, 0, 1, new TreeMap<>()));
      } else if (entries.get(at).type() != TreeEntry.Type.DIR) {
        throw new NeedsAppliance("creating " + path + ": " + next + " is not a directory");
      }
      cur = next;
    }
  }

  @Override
  public void truncate(String path) throws IOException {
    String at = resolve(path, true);
    TreeEntry e = at == null ? null : entries.get(at);
    if (e == null || e.type() != TreeEntry.Type.FILE || e.nlink() > 1) {
      throw new NeedsAppliance("emptying " + path);
    }
    if (e.size() == 0) {
      return; // truncate(2) to the same size leaves the times alone
    }
    Content c = store(new byte[0]);
    entries.put(at, file(at, e.mode(), e.uid(), e.gid(), c, Digest.sha256(new byte[0]).encoded(), epoch, 0,
        e.xattrs()));
    touched.add(at);
    written.put(at, c);
  }

  @Override
  public void symlink(String target, String link) throws IOException {
    mkdirs(link.substring(0, Math.max(1, link.lastIndexOf('/'))));
    String[] pn = parentAndName(link);
    if (pn == null) {
      throw new NeedsAppliance("linking " + link);
    }
    String p = join(pn[0], pn[1]);
    onRoot(p, link);
    if (entries.containsKey(p)) {
      String followed = resolve(link, true);
      if (entries.get(p).type() == TreeEntry.Type.DIR
          || (followed != null && entries.get(followed).type() == TreeEntry.Type.DIR)) {
        throw new NeedsAppliance("linking " + link + ": ln would link inside the directory there");
      }
      unlink(p);
    }
    put(new TreeEntry(p, TreeEntry.Type.LINK, 0777, 0, 0, 0, null, target, 0, 0, epoch, 0, 1, new TreeMap<>()));
    dirChanged(pn[0]);
  }

  @Override
  public void remove(String path) throws IOException {
    if (path.endsWith("/") && path.length() > 1) {
      String at = resolve(path, false);
      if (at != null && entries.get(at).type() == TreeEntry.Type.LINK) {
        throw new NeedsAppliance("removing " + path + " (a link to a directory, named as the directory)");
      }
    }
    String[] pn = parentAndName(path);
    if (pn == null) {
      return;
    }
    String p = join(pn[0], pn[1]);
    if (!entries.containsKey(p)) {
      return;
    }
    onRoot(p, path);
    if (p.equals(".") || os.mountpoints().containsKey("/" + p)) {
      throw new NeedsAppliance("removing " + path);
    }
    unlink(p);
    dirChanged(pn[0]);
  }

  @Override
  public void tarIn(TarSource tar, String dir, String label) throws IOException {
    mkdirs(dir);
    String into = resolve(dir, true);
    // streamed as the appliance's tar_in is (progress by the bytes written): an image store can be
    // gigabytes, which go to the spool once, not through a file first
    Map<String, TarReader.Header> dirs = piped(out -> tar.writeTo(new ProgressStream(out, label, tar.size(), events)),
        in -> unpack(in, into, label));
    for (Map.Entry<String, TarReader.Header> d : dirs.entrySet()) {
      TreeEntry e = entries.get(d.getKey());
      TarReader.Header h = d.getValue();
      entries.put(d.getKey(), new TreeEntry(e.path(), TreeEntry.Type.DIR, h.mode() & 07777, h.uid(), h.gid(), 0, null,
          null, 0, 0, h.mtime(), h.mtimeNanos(), e.nlink(), e.xattrs()));
      touched.add(d.getKey());
    }
  }

  /** The tar's entries into {@code into}; the directories' headers, which tar applies last. */
  private Map<String, TarReader.Header> unpack(InputStream in, String into, String label) throws IOException {
    Map<String, TarReader.Header> dirs = new TreeMap<>();
    TarReader r = new TarReader(in);
    byte[] buf = new byte[1 << 16];
    for (TarReader.Header h = r.next(); h != null; h = r.next()) {
      Deque<String> parts = components(h.path());
      parts.removeIf(c -> c.equals("."));
      if (parts.contains("..")) {
        throw new NeedsAppliance("unpacking " + label + ": " + h.path());
      }
      String p = parts.isEmpty() ? into : join(into, String.join("/", parts));
      if (!p.equals(into)) {
        String par = parent(p);
        mkdirs(par.equals(".") ? "/" : "/" + par); // tar makes missing parents as root, 0755
      }
      TreeEntry e = entries.get(p);
      boolean replaceable = e == null || (h.type() == '5' ? e.type() == TreeEntry.Type.DIR
          : e.type() != TreeEntry.Type.DIR && e.nlink() <= 1);
      if (!replaceable) {
        throw new NeedsAppliance("unpacking " + label + ": " + p + " is a " + e.type() + " already");
      }
      switch (h.type()) {
        case '5' -> {
          if (e == null) {
            put(new TreeEntry(p, TreeEntry.Type.DIR, h.mode(), h.uid(), h.gid(), 0, null, null, 0, 0, epoch, 0, 1,
                new TreeMap<>()));
          }
          dirs.put(p, h); // tar sets a directory's mode, owner and time once its contents are in
        }
        case '0' -> {
          long at = spoolEnd;
          java.security.MessageDigest md = Digest.messageDigest("sha256");
          for (int n = r.data(buf, 0, buf.length); n > 0; n = r.data(buf, 0, buf.length)) {
            md.update(buf, 0, n);
            ByteBuffer b = ByteBuffer.wrap(buf, 0, n);
            while (b.hasRemaining()) {
              spoolEnd += spool.write(b, spoolEnd);
            }
          }
          Content c = new Content(at, spoolEnd - at);
          if (e != null) {
            unlink(p); // tar replaces a file by a new one
          }
          put(file(p, h.mode() & 07777, h.uid(), h.gid(), c, java.util.HexFormat.of().formatHex(md.digest()),
              h.mtime(), h.mtimeNanos(), new TreeMap<>()));
          written.put(p, c);
        }
        case '2' -> {
          if (e != null) {
            unlink(p);
          }
          put(new TreeEntry(p, TreeEntry.Type.LINK, 0777, h.uid(), h.gid(), 0, null, h.link(), 0, 0, h.mtime(),
              h.mtimeNanos(), 1, new TreeMap<>()));
        }
        default -> throw new NeedsAppliance("unpacking " + label + ": " + h.path() + " of tar type " + h.type());
      }
    }
    return dirs;
  }

  // ---- reads

  @Override
  public byte[] read(String path) throws IOException {
    String at = resolve(path, true);
    if (at == null || entries.get(at).type() != TreeEntry.Type.FILE) {
      return null;
    }
    Content c = written.get(at);
    if (c == null) {
      return base.content(at);
    }
    ByteBuffer b = ByteBuffer.allocate((int) c.size());
    while (b.hasRemaining()) {
      if (spool.read(b, c.offset() + b.position()) < 0) {
        throw new IOException("the spool ends inside " + path);
      }
    }
    return b.array();
  }

  @Override
  public List<String> list(String dir) throws IOException {
    String at = resolve(dir, true);
    if (at == null || entries.get(at).type() != TreeEntry.Type.DIR) {
      return List.of();
    }
    List<String> out = new ArrayList<>(children.getOrDefault(at, new TreeSet<>()));
    out.sort(null);
    return out;
  }

  @Override
  public boolean exists(String path) throws IOException {
    return resolve(path, true) != null;
  }

  @Override
  public String readlink(String path) throws IOException {
    String at = resolve(path, false);
    TreeEntry e = at == null ? null : entries.get(at);
    return e != null && e.type() == TreeEntry.Type.LINK ? e.link() : null;
  }

  @Override
  public String sha256(String path) throws IOException {
    String at = resolve(path, true);
    if (at == null || entries.get(at).type() != TreeEntry.Type.FILE) {
      throw new IOException("hashing " + path + ": not a file");
    }
    return entries.get(at).sha256();
  }

  @Override
  public Map<String, String> sha256Under(String dir) throws IOException {
    String at = resolve(dir, true);
    Map<String, String> out = new TreeMap<>();
    if (at == null || entries.get(at).type() != TreeEntry.Type.DIR) {
      return out;
    }
    Deque<String> todo = new ArrayDeque<>(List.of(at));
    while (!todo.isEmpty()) {
      String d = todo.poll();
      for (String c : children.getOrDefault(d, new TreeSet<>())) {
        String p = join(d, c);
        TreeEntry e = entries.get(p);
        if (e.type() == TreeEntry.Type.DIR) {
          todo.add(p);
        } else if (e.type() == TreeEntry.Type.FILE) {
          out.put(at.equals(".") ? p : p.substring(at.length() + 1), e.sha256());
        }
      }
    }
    return out;
  }

  @Override
  public long size(String path) throws IOException {
    String at = resolve(path, true);
    return at == null ? -1 : entries.get(at).size();
  }

  @Override
  public long mtime(String path) throws IOException {
    String at = resolve(path, false);
    if (at == null) {
      throw new IOException("reading the time of " + path + ": not there");
    }
    return entries.get(at).mtime();
  }

  /**
   * glob(3) with GLOB_MARK as the appliance runs it: {@code *}, {@code ?} and {@code [...]} per
   * component, a leading dot matched only by a leading dot, directories marked with "/".
   */
  @Override
  public List<String> glob(String pattern) throws IOException {
    if (!pattern.startsWith("/") || pattern.contains("{") || pattern.contains("\\")) {
      throw new NeedsAppliance("glob " + pattern);
    }
    List<String> found = new ArrayList<>(List.of("/"));
    Deque<String> parts = components(pattern);
    while (!parts.isEmpty()) {
      String part = parts.poll();
      List<String> next = new ArrayList<>();
      for (String f : found) {
        String prefix = f.equals("/") ? "/" : f + "/";
        if (!part.matches(".*[*?\\[].*")) {
          if (resolve(prefix + part, false) != null) {
            next.add(prefix + part);
          }
          continue;
        }
        Pattern re = Pattern.compile(globRegex(part));
        for (String n : list(f)) {
          if (re.matcher(n).matches() && !(n.startsWith(".") && !part.startsWith("."))) {
            next.add(prefix + n);
          }
        }
      }
      found = next;
    }
    List<String> out = new ArrayList<>();
    for (String f : found) {
      if (f.equals("/")) {
        continue;
      }
      String at = resolve(f, true);
      out.add(at != null && entries.get(at).type() == TreeEntry.Type.DIR ? f + "/" : f);
    }
    out.sort(null);
    return out;
  }

  private static String globRegex(String part) throws NeedsAppliance {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < part.length(); i++) {
      char c = part.charAt(i);
      if (c == '*') {
        b.append(".*");
      } else if (c == '?') {
        b.append('.');
      } else if (c == '[') {
        int end = part.indexOf(']', i + 2);
        if (end < 0) {
          throw new NeedsAppliance("glob component " + part);
        }
        String set = part.substring(i + 1, end);
        boolean not = set.startsWith("!");
        b.append('[').append(not ? "^" : "").append(Pattern.quote(not ? set.substring(1) : set)
            .replace("\\Q", "").replace("\\E", "")).append(']');
        i = end;
      } else {
        b.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return b.toString();
  }

  /** A regular file's sha256 at a tree path (no link followed), or null. */
  String fileSha(String treePath) {
    TreeEntry e = entries.get(treePath);
    return e != null && e.type() == TreeEntry.Type.FILE ? e.sha256() : null;
  }

  // ---- what only the appliance does

  @Override
  public String sh(String script) throws IOException {
    String out = recorded.get(script);
    if (out == null) {
      throw new NeedsAppliance("a script (no record of its run on these binaries)");
    }
    return out;
  }

  @Override
  public String command(List<String> argv) throws IOException {
    throw new NeedsAppliance("running " + argv.get(0));
  }

  @Override
  public void run(String what, String script) throws IOException {
    throw new NeedsAppliance(what);
  }

  @Override
  public void tarOutRoot(List<String> patterns, TarSink sink) throws IOException {
    throw new NeedsAppliance("a tar of the root");
  }

  @Override
  public List<String> listRoot() throws IOException {
    throw new NeedsAppliance("a listing of the root");
  }

  @Override
  public void trim() {
    // nothing: the root file system is made again from the tree
  }

  // ---- the result

  /**
   * The tree as changed: the base's entries where nothing changed them, the changed ones (times
   * after the epoch set back to it) from this image's spool. It reads the base's spool, which
   * the caller keeps open as long as it.
   */
  RootTree tree(Path work) throws IOException {
    RootTree fresh = piped(out -> {
      TarWriter w = new TarWriter(java.nio.channels.Channels.newChannel(out), null, 0);
      for (String p : new TreeSet<>(touched)) {
        TreeEntry e = entries.get(p);
        java.util.SortedMap<String, byte[]> pax = new TreeMap<>();
        e.xattrs().forEach((k, v) -> pax.put("SCHILY.xattr." + k, v));
        String name = p.equals(".") ? "./" : "./" + p + (e.type() == TreeEntry.Type.DIR ? "/" : "");
        char type = switch (e.type()) {
          case FILE -> '0';
          case DIR -> '5';
          case LINK -> '2';
          default -> throw new NeedsAppliance("changed " + p + " of type " + e.type());
        };
        Content c = written.get(p);
        if (type == '0' && c == null) {
          throw new IOException("the changed file " + p + " has no content");
        }
        w.entry(new TarWriter.Entry(name, type, e.mode(), e.uid(), e.gid(), e.mtime(), e.mtimeNanos(), e.link(), 0, 0,
            pax), type == '0' ? c.size() : 0, spool, type == '0' ? c.offset() : 0);
      }
      w.finish();
    }, in -> RootTree.read(in, work.resolve("tree-image-changes.spool"), epoch));
    try {
      return RootTree.merge(base, p -> !touched.contains(p), fresh, new HashSet<>(entries.keySet()));
    } catch (IOException | RuntimeException e) {
      fresh.close();
      throw e;
    }
  }

  /** Writes bytes to an output stream. */
  private interface Producer {
    void write(OutputStream out) throws IOException;
  }

  /** Makes something of an input stream. */
  private interface Consumer<T> {
    T read(InputStream in) throws IOException;
  }

  /**
   * What {@code reader} makes of what {@code writer} writes on a thread of its own, through a pipe
   * (nothing on disk between). An error is the one that came first: the writer's (the reader then
   * meets a cut stream) or the reader's (the writer then meets a closed pipe), as thrown.
   */
  private static <T> T piped(Producer writer, Consumer<T> reader) throws IOException {
    java.io.PipedInputStream in = new java.io.PipedInputStream(1 << 20);
    java.io.PipedOutputStream pipe = new java.io.PipedOutputStream(in);
    java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.concurrent.atomic.AtomicBoolean readerGaveUp = new java.util.concurrent.atomic.AtomicBoolean();
    Thread t = new Thread(() -> {
      try (OutputStream out = pipe) {
        writer.write(out);
      } catch (Throwable e) {
        if (!readerGaveUp.get()) {
          failed.set(e);
        }
      }
    }, "tree-image-pipe");
    t.setDaemon(true);
    t.start();
    T made = null;
    IOException read = null;
    try {
      made = reader.read(in);
      in.transferTo(OutputStream.nullOutputStream()); // past the tar's end blocks, so the writer finishes
    } catch (IOException | RuntimeException e) {
      readerGaveUp.set(true);
      read = e instanceof IOException io ? io : new IOException(e.getMessage(), e);
    } finally {
      in.close(); // a writer still writing fails on the closed pipe and ends
      try {
        t.join(60_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    Throwable w = failed.get();
    if (w != null && made instanceof AutoCloseable c) {
      try {
        c.close(); // made of a stream whose writer failed: not used
      } catch (Exception ignored) {
        // the writer's error is the one to report
      }
    }
    if (w instanceof IOException io) {
      throw io;
    } else if (w != null) {
      throw new IOException("writing a tar stream: " + w, w);
    } else if (read != null) {
      throw read;
    }
    return made;
  }

  @Override
  public void close() throws IOException {
    spool.close();
    Files.deleteIfExists(spoolFile);
  }
}
