package io.hypervisor.assembler.assemble;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** A disk file's format from its magic: qcow2 ("QFI\xfb") or raw. libguestfs must be told; probing is unsafe. */
final class DiskFormat {
  private DiskFormat() {}

  static String of(Path disk) throws IOException {
    try (InputStream in = Files.newInputStream(disk)) {
      byte[] m = in.readNBytes(4);
      return m.length == 4 && m[0] == 'Q' && m[1] == 'F' && m[2] == 'I' && (m[3] & 0xff) == 0xfb ? "qcow2" : "raw";
    }
  }
}
