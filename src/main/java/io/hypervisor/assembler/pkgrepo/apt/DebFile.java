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

  /**
   * The date dpkg-deb gave the package's data member: when it was built (SOURCE_DATE_EPOCH where
   * the build has one, to which dpkg-deb also clamps the files' times). Reads the ar headers only.
   */
  public static long buildTime(Path deb, String what) throws IOException {
    try (ArArchiveInputStream ar = new ArArchiveInputStream(new BufferedInputStream(Files.newInputStream(deb)))) {
      for (ArArchiveEntry e = ar.getNextEntry(); e != null; e = ar.getNextEntry()) {
        if (e.getName().startsWith("data.tar")) {
          return e.getLastModified();
        }
      }
    } catch (IOException | IllegalArgumentException e) {
      throw new IOException(what + " is not a Debian package: " + e.getMessage(), e);
    }
    throw new IOException(what + " has no data.tar member: not a Debian package");
  }
}
