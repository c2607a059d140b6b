package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * An image session on a directory tree, for the steps' unit tests: file operations act on the
 * tree (symlinks keep their absolute in-image targets), tar streams are unpacked with
 * commons-compress, and scripts are recorded (not run) so tests can check what a step asked for.
 */
class DirectorySession implements ImageSession {
  final Path root;
  final List<String> scripts = new ArrayList<>();

  DirectorySession(Path root) {
    this.root = root;
  }

  Path at(String path) {
    return root.resolve(path.replaceFirst("^/+", ""));
  }

  @Override
  public OsInfo os() {
    return new OsInfo("linux", "debian", 12, 0, "x86_64", "deb", "/dev/sda1", Map.of("/", "/dev/sda1"));
  }

  @Override
  public byte[] read(String path) throws IOException {
    Path p = at(path);
    return Files.isRegularFile(p) ? Files.readAllBytes(p) : null;
  }

  @Override
  public List<String> list(String dir) throws IOException {
    Path d = at(dir);
    if (!Files.isDirectory(d)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Override
  public long mtime(String path) throws IOException {
    return Files.getLastModifiedTime(at(path), LinkOption.NOFOLLOW_LINKS).toInstant().getEpochSecond();
  }

  @Override
  public boolean exists(String path) {
    return Files.exists(at(path), LinkOption.NOFOLLOW_LINKS);
  }

  @Override
  public void write(String path, byte[] content, int mode) throws IOException {
    Path p = at(path);
    Files.createDirectories(p.getParent());
    Files.deleteIfExists(p);
    Files.write(p, content);
    Files.setPosixFilePermissions(p, perms(mode));
  }

  static Set<PosixFilePermission> perms(int mode) {
    Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] order = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
        PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
        PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_READ};
    for (int i = 0; i < 9; i++) {
      if ((mode & (1 << i)) != 0) {
        s.add(order[i]);
      }
    }
    return s;
  }

  @Override
  public void mkdirs(String path) throws IOException {
    Files.createDirectories(at(path));
  }

  @Override
  public void truncate(String path) throws IOException {
    Files.write(at(path), new byte[0]);
  }

  @Override
  public void symlink(String target, String link) throws IOException {
    Path l = at(link);
    Files.createDirectories(l.getParent());
    Files.deleteIfExists(l);
    Files.createSymbolicLink(l, Path.of(target));
  }

  @Override
  public String readlink(String path) throws IOException {
    Path p = at(path);
    return Files.isSymbolicLink(p) ? Files.readSymbolicLink(p).toString() : null;
  }

  @Override
  public String sha256(String path) throws IOException {
    return io.hypervisor.assembler.model.Digest.sha256(Files.readAllBytes(at(path))).encoded();
  }

  @Override
  public Map<String, String> sha256Under(String dir) throws IOException {
    Path d = at(dir);
    Map<String, String> sums = new java.util.TreeMap<>();
    if (!Files.isDirectory(d)) {
      return sums;
    }
    try (Stream<Path> s = Files.walk(d)) {
      for (Path f : s.filter(Files::isRegularFile).toList()) {
        sums.put(d.relativize(f).toString(), sha256("/" + root.relativize(f)));
      }
    }
    return sums;
  }

  @Override
  public long size(String path) throws IOException {
    return Files.exists(at(path)) ? Files.size(at(path)) : -1;
  }

  @Override
  public List<String> glob(String pattern) throws IOException {
    List<String> found = new ArrayList<>(List.of(""));
    for (String seg : pattern.replaceFirst("^/+", "").split("/")) {
      List<String> next = new ArrayList<>();
      for (String base : found) {
        Path dir = base.isEmpty() ? root : at(base);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, seg)) {
          for (Path p : ds) {
            next.add(base + "/" + p.getFileName());
          }
        }
      }
      found = next;
    }
    found.sort(Comparator.naturalOrder());
    return found;
  }

  @Override
  public void trim() {
    scripts.add("#fstrim");
  }

  @Override
  public void remove(String path) throws IOException {
    Path p = at(path);
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      try (Stream<Path> s = Files.walk(p)) {
        for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(q);
        }
      }
    } else {
      Files.delete(p);
    }
  }

  @Override
  public String sh(String script) {
    scripts.add(script);
    return "";
  }

  @Override
  public String command(List<String> argv) {
    scripts.add(String.join(" ", argv));
    return "";
  }

  @Override
  public void run(String what, String script) {
    scripts.add(script);
  }

  @Override
  public void tarIn(TarSource tar, String dir, String label) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    tar.writeTo(buf);
    Path base = at(dir);
    Files.createDirectories(base);
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(buf.toByteArray()))) {
      for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        Path p = base.resolve(e.getName());
        if (e.isDirectory()) {
          Files.createDirectories(p);
        } else {
          Files.createDirectories(p.getParent());
          copy(in, p);
          Files.setPosixFilePermissions(p, perms(e.getMode() & 0777));
        }
      }
    }
  }

  private static void copy(InputStream in, Path p) throws IOException {
    Files.deleteIfExists(p);
    Files.copy(in, p);
  }

  /** GNU tar on the directory, as the appliance's tar_out would stream the root file system. */
  @Override
  public void tarOutRoot(List<String> patterns, TarSink sink) throws IOException {
    Path excludes = Files.createTempFile("excludes", ".txt");
    Files.write(excludes, patterns);
    excludes.toFile().deleteOnExit();
    Process p = new ProcessBuilder("tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-X",
        excludes.toString(), "-C", root.toString(), "-cf", "-", ".").redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    try (InputStream in = p.getInputStream()) {
      sink.readFrom(in);
      in.transferTo(java.io.OutputStream.nullOutputStream());
    }
    try {
      if (p.waitFor() != 0) {
        throw new IOException("tar of " + root + " failed (" + p.exitValue() + ")");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException();
    }
  }

  @Override
  public List<String> listRoot() throws IOException {
    try (java.util.stream.Stream<Path> s = Files.walk(root)) {
      return s.filter(f -> !f.equals(root)).map(f -> root.relativize(f).toString()).toList();
    }
  }

  @Override
  public void close() {
    // nothing to release
  }
}
