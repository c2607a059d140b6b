package io.hypervisor.assembler.pkgrepo.apt;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.compress.archivers.ar.ArArchiveEntry;
import org.apache.commons.compress.archivers.ar.ArArchiveInputStream;

/** What a .deb file says about itself without unpacking it. */
public final class DebFile {
  private DebFile() {}

  /** What one member of a .deb's ar archive gives; {@code in} reads that member's bytes. */
  interface MemberReader<T> {
    T read(ArArchiveEntry member, ArArchiveInputStream in) throws IOException;
  }

  /**
   * What {@code reader} makes of the first member whose name starts with {@code prefix}: the one
   * walk over a .deb's members that the build time, the control file and the zstd rewrite share.
   */
  static <T> T member(Path deb, String what, String prefix, MemberReader<T> reader) throws IOException {
    try (ArArchiveInputStream ar = new ArArchiveInputStream(new BufferedInputStream(Files.newInputStream(deb)))) {
      for (ArArchiveEntry e = ar.getNextEntry(); e != null; e = ar.getNextEntry()) {
        if (e.getName().startsWith(prefix)) {
          return reader.read(e, ar);
        }
      }
    } catch (IOException | IllegalArgumentException e) {
      throw new IOException(what + " is not a Debian package: " + e.getMessage(), e);
    }
    throw new IOException(what + " has no " + prefix + " member: not a Debian package");
  }

  /**
   * The date dpkg-deb gave the package's data member: when it was built (SOURCE_DATE_EPOCH where
   * the build has one, to which dpkg-deb also clamps the files' times). Reads the ar headers only.
   */
  public static long buildTime(Path deb, String what) throws IOException {
    return member(deb, what, "data.tar", (e, in) -> e.getLastModified());
  }

  /** Control members this reads are at most this big (a control file is a few KiB). */
  private static final long MAX_CONTROL = 1 << 20;

  /** The package's {@code control} file, from its control.tar (plain, gzip, xz or zstd, as dpkg-deb writes them). */
  public static byte[] control(Path deb, String what) throws IOException {
    return member(deb, what, "control.tar", (e, ar) -> {
      String name = e.getName();
      java.io.InputStream in = switch (name) {
        case "control.tar" -> ar;
        case "control.tar.gz" -> new java.util.zip.GZIPInputStream(ar);
        case "control.tar.xz" -> new org.tukaani.xz.XZInputStream(ar);
        case "control.tar.zst" -> new com.github.luben.zstd.ZstdInputStream(ar);
        default -> throw new IOException(what + " has a " + name + ", which dpkg does not write");
      };
      try (org.apache.commons.compress.archivers.tar.TarArchiveInputStream tar =
          new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(in)) {
        for (var t = tar.getNextEntry(); t != null; t = tar.getNextEntry()) {
          if (t.getName().equals("./control") || t.getName().equals("control")) {
            if (t.getSize() > MAX_CONTROL) {
              throw new IOException(what + "'s control file is " + t.getSize() + " bytes");
            }
            return tar.readNBytes((int) t.getSize());
          }
        }
      }
      throw new IOException(what + "'s " + name + " has no control file");
    });
  }
}
