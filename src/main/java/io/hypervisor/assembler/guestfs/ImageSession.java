package io.hypervisor.assembler.guestfs;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * An open disk image with its file systems mounted at their places: what the build steps read,
 * write and run. One libguestfs appliance implements it ({@link GuestfsSession}); tests use a
 * directory. Paths are absolute paths inside the image.
 */
public interface ImageSession extends AutoCloseable {
  /** What inspection found: the operating system and how its file systems mount. */
  record OsInfo(String type, String distro, int major, int minor, String arch, String packageFormat,
      String root, Map<String, String> mountpoints) {
    public OsInfo {
      mountpoints = Map.copyOf(mountpoints);
    }
  }

  OsInfo os();

  /** A file's bytes, or null when there is no such file. */
  byte[] read(String path) throws IOException;

  /** The names in a directory (sorted; empty when it does not exist). */
  List<String> list(String dir) throws IOException;

  boolean exists(String path) throws IOException;

  /** Writes a file (parents created), replacing what was there, with the given mode. */
  void write(String path, byte[] content, int mode) throws IOException;

  void mkdirs(String path) throws IOException;

  /** Creates or replaces a symbolic link. */
  void symlink(String target, String link) throws IOException;

  /** Removes a file or directory tree; no error when absent. */
  void remove(String path) throws IOException;

  /**
   * Runs a shell script inside the image (chrooted, with /dev, /proc and /sys of the appliance)
   * and returns its standard output; a non-zero exit is an IOException carrying its stderr.
   */
  String sh(String script) throws IOException;

  /** Runs a program inside the image with arguments (no shell) and returns its standard output. */
  String command(List<String> argv) throws IOException;

  @Override
  void close() throws IOException;
}
