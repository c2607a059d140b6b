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

    /**
     * The mount points of the root's own file system, parents first: "/" and, when it is btrfs,
     * the same file system's other subvolumes (Fedora's /home and /var), which are the root's
     * content as much as its root subvolume is.
     */
    public List<String> rootMounts() {
      String root = mountpoints.get("/");
      String fs = btrfsDevice(root) != null ? btrfsDevice(root) : root;
      List<String> out = new java.util.ArrayList<>();
      out.add("/");
      mountpoints.keySet().stream().sorted().forEach(mp -> {
        if (!mp.equals("/") && fs != null && fs.equals(btrfsDevice(mountpoints.get(mp)))) {
          out.add(mp);
        }
      });
      return out;
    }

    /** The device of libguestfs's "btrfsvol:DEVICE/SUBVOLUME", or null for any other device. */
    static String btrfsDevice(String device) {
      java.util.regex.Matcher m = BTRFSVOL.matcher(device == null ? "" : device);
      return m.find() ? m.group(1) : null;
    }

    private static final java.util.regex.Pattern BTRFSVOL =
        java.util.regex.Pattern.compile("^btrfsvol:(/dev/(?:mapper/)?[^/]+)/");
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

  /** Empties a file, keeping its owner and mode. */
  void truncate(String path) throws IOException;

  /** Creates or replaces a symbolic link. */
  void symlink(String target, String link) throws IOException;

  /** The target of a symbolic link, or null when the path is not one. */
  String readlink(String path) throws IOException;

  /** A file's sha256, hex, computed where the file is (no copy out of the image). */
  String sha256(String path) throws IOException;

  /**
   * The sha256 (hex) of every regular file under a directory, by path relative to it, in one
   * call where the files are; empty when the directory does not exist.
   */
  Map<String, String> sha256Under(String dir) throws IOException;

  /** A file's size in bytes, or -1 when it does not exist. */
  long size(String path) throws IOException;

  /** A file's modification time in seconds since 1970 (not following a final link). */
  long mtime(String path) throws IOException;

  /** The paths matching a shell glob (sorted; empty when none), without following it outside the image. */
  List<String> glob(String pattern) throws IOException;

  /** Discards unused blocks of every file system, so the written image carries no deleted data. */
  void trim() throws IOException;

  /** Removes a file or directory tree; no error when absent. */
  void remove(String path) throws IOException;

  /**
   * Runs a shell script inside the image (chrooted, with /dev, /proc and /sys of the appliance)
   * and returns its standard output; a non-zero exit is an IOException carrying its stderr.
   */
  String sh(String script) throws IOException;

  /** Runs a program inside the image with arguments (no shell) and returns its standard output. */
  String command(List<String> argv) throws IOException;

  /**
   * Runs a build script inside the image ({@code set -e}); its output goes to a log that is
   * reported as debug events, included (its tail) in the error when the script fails, and never
   * left in the image.
   */
  void run(String what, String script) throws IOException;

  /** A tar stream producer and its exact size (for progress). */
  interface TarSource {
    long size();

    void writeTo(java.io.OutputStream out) throws IOException;
  }

  /** Unpacks a tar stream into a directory of the image (created if missing), streaming it. */
  void tarIn(TarSource tar, String dir, String label) throws IOException;

  /** Where a tar stream out of the image goes; it must read the stream to its end. */
  interface TarSink {
    void readFrom(java.io.InputStream in) throws IOException;
  }

  /**
   * Streams the root file system alone as a tar (numeric owners, extended attributes, SELinux
   * labels, ACLs; other file systems unmounted meanwhile, so their mount points appear as the
   * root file system holds them; a btrfs root's other subvolumes, {@link OsInfo#rootMounts}, stay
   * mounted) to {@code sink}.
   */
  default void tarOutRoot(TarSink sink) throws IOException {
    tarOutRoot(List.of(), sink);
  }

  /**
   * The same, leaving out what GNU tar's exclusion {@code patterns} match ({@code ./path}, a
   * directory with everything below it).
   */
  void tarOutRoot(List<String> patterns, TarSink sink) throws IOException;

  /**
   * Streams a directory of the mounted image as a tar (its entries named {@code ./path}, links
   * kept as links) to {@code sink}: one call instead of one per file. Not every session can.
   */
  default void tarOut(String dir, TarSink sink) throws IOException {
    throw new IOException("this image cannot stream " + dir + " as a tar");
  }

  /**
   * Every path of the root file system alone (other file systems unmounted meanwhile), relative
   * to it without "./", the root itself left out, in the order find(1) walks them.
   */
  List<String> listRoot() throws IOException;

  /** A partition: its device, number, byte range on the disk and file system type ("" when none). */
  record Partition(String device, int number, long start, long size, String fsType) {}

  /** The disk's partitions in order (empty when the image is not a disk). */
  default List<Partition> partitions() throws IOException {
    return List.of();
  }

  /** An ext2/3/4 file system's superblock fields, as {@code tune2fs -l} lists them. */
  default Map<String, String> superblock(String device) throws IOException {
    throw new IOException("this image has no devices");
  }

  /**
   * What every later script runs with (exported before it, with a fixed umask): the build's
   * {@code SOURCE_DATE_EPOCH}, {@code TZ=UTC}, {@code LC_ALL=C}, so tools that stamp times or
   * sort by locale write the same files on every build host.
   */
  default void environment(Map<String, String> env) {}

  /** Work done on a quiesced disk. */
  @FunctionalInterface
  interface Quiesced {
    void run() throws IOException;
  }

  /**
   * Unmounts every file system and flushes the disk through to its file on the host, runs
   * {@code action} (which may copy that file: it is consistent now), then mounts them again.
   */
  default void quiesced(Quiesced action) throws IOException {
    throw new IOException("this image cannot be quiesced");
  }

  @Override
  void close() throws IOException;
}
