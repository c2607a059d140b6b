package io.hypervisor.assembler.pkgrepo.apt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Tools;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zstd rewrite against dpkg-deb and dpkg: the rewritten package has the same control data
 * and yields the same file system tar (byte for byte, as dpkg-deb --fsys-tarfile gives it), dpkg
 * installs it, and a package too small to be worth it is left alone.
 */
class DebRepackTest {
  @TempDir
  Path tmp;

  private Path deb(String name, int bytes) throws Exception {
    Path root = tmp.resolve("src-" + name);
    Files.createDirectories(root.resolve("DEBIAN"));
    Files.writeString(root.resolve("DEBIAN/control"), "Package: " + name + "\nVersion: 1.0\nArchitecture: all\n"
        + "Maintainer: test <test@assemble.invalid>\nDescription: repack test\n");
    Files.writeString(root.resolve("DEBIAN/postinst"), "#!/bin/sh\ntouch \"$DPKG_ROOT/var/" + name + ".configured\"\n");
    Files.setPosixFilePermissions(root.resolve("DEBIAN/postinst"),
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.createDirectories(root.resolve("usr/bin"));
    byte[] b = new byte[bytes];
    new java.util.Random(1).nextBytes(b);
    Files.write(root.resolve("usr/bin/" + name), b);
    Files.createSymbolicLink(root.resolve("usr/bin/" + name + "-link"), Path.of(name));
    Path deb = tmp.resolve(name + ".deb");
    Tools.run(List.of("env", "SOURCE_DATE_EPOCH=1700000000", "dpkg-deb", "--root-owner-group", "-Zxz", "--build",
        root.toString(), deb.toString()), tmp, 120).ok();
    return deb;
  }

  private static byte[] fsysTar(Path deb) throws Exception {
    Process p = new ProcessBuilder("dpkg-deb", "--fsys-tarfile", deb.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (InputStream in = p.getInputStream()) {
      byte[] out = in.readAllBytes();
      assertEquals(0, p.waitFor());
      return out;
    }
  }

  @Test
  void theRewriteInstallsTheSameFiles() throws Exception {
    Path original = deb("bigtool", 6 << 20);
    assertTrue(DebRepack.worthIt(original));
    Path zst = tmp.resolve("bigtool-zst.deb");
    DebRepack.toZstd(original, zst, "bigtool 1.0");
    assertEquals(List.of("debian-binary", "control.tar.xz", "data.tar.zst"),
        Tools.run(List.of("ar", "t", zst.toString())).ok().out().lines().toList());
    assertArrayEquals(fsysTar(original), fsysTar(zst));
    assertEquals(Tools.run(List.of("dpkg-deb", "-f", original.toString())).ok().out(),
        Tools.run(List.of("dpkg-deb", "-f", zst.toString())).ok().out());
    assertArrayEquals(DebFile.control(original, "o"), DebFile.control(zst, "z"));
    assertFalse(DebRepack.worthIt(zst), "zstd data is left as it is");

    Path root = tmp.resolve("root");
    Files.createDirectories(root.resolve("var/lib/dpkg/updates"));
    Files.createDirectories(root.resolve("var/lib/dpkg/info"));
    Files.writeString(root.resolve("var/lib/dpkg/status"), "");
    Tools.run(List.of("dpkg", "--root=" + root, "--force-not-root", "--force-script-chrootless", "--log=/dev/null",
        "-i", zst.toString()), tmp, 120).ok();
    assertTrue(Files.readString(root.resolve("var/lib/dpkg/status")).contains("Status: install ok installed"));
    assertTrue(Files.exists(root.resolve("var/bigtool.configured")));
    assertEquals(6 << 20, Files.size(root.resolve("usr/bin/bigtool")));

    assertFalse(DebRepack.worthIt(deb("small", 1000)), "a small package goes as it is");
  }
}
