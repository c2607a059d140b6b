package io.hypervisor.assembler.content;

import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/**
 * Writes a tree into a directory: files appear under their names only when complete (temporary
 * name, then rename), blobs are copied from the content store and skipped when a file of the same
 * size is already there (blob files are named by their digest), modes are set as asked.
 */
public final class DirectoryWriter implements TreeSink {
  private final Path root;
  private final ContentStore store;

  public DirectoryWriter(Path root, ContentStore store) {
    this.root = root;
    this.store = store;
  }

  private Path resolve(String path) throws IOException {
    Path p = root.resolve(path).normalize();
    if (!p.startsWith(root.normalize())) {
      throw new IOException("path " + path + " leaves " + root);
    }
    return p;
  }

  @Override
  public void directory(String path, int mode) throws IOException {
    Path d = resolve(path);
    Files.createDirectories(d);
    Files.setPosixFilePermissions(d, permissions(mode));
  }

  @Override
  public void file(String path, int mode, byte[] data) throws IOException {
    Path f = resolve(path);
    Path tmp = f.resolveSibling("." + f.getFileName() + ".partial");
    Files.write(tmp, data);
    Files.setPosixFilePermissions(tmp, permissions(mode));
    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public void blob(String path, int mode, Digest digest) throws IOException {
    Path f = resolve(path);
    if (Files.exists(f) && Files.size(f) == store.size(digest)) {
      return;
    }
    Path tmp = f.resolveSibling("." + f.getFileName() + ".partial");
    Files.copy(store.path(digest), tmp, StandardCopyOption.REPLACE_EXISTING);
    Files.setPosixFilePermissions(tmp, permissions(mode));
    Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  static Set<PosixFilePermission> permissions(int mode) {
    Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] bits = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
        PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
        PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_READ};
    for (int i = 0; i < bits.length; i++) {
      if ((mode & (1 << i)) != 0) {
        s.add(bits[i]);
      }
    }
    return s;
  }
}
