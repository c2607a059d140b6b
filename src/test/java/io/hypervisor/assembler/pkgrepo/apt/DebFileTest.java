package io.hypervisor.assembler.pkgrepo.apt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A .deb's build time as dpkg-deb wrote it (the real tool builds the package). */
class DebFileTest {
  @TempDir
  Path tmp;

  @Test
  void theBuildTimeIsTheDataMembersDate() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("pkg/DEBIAN"));
    Files.writeString(root.resolve("control"), """
        Package: hello-date
        Version: 1.0
        Architecture: all
        Maintainer: test <test@assemble.invalid>
        Description: build time test
        """);
    Files.createDirectories(tmp.resolve("pkg/usr/share/hello-date"));
    Files.writeString(tmp.resolve("pkg/usr/share/hello-date/README"), "hi\n");
    Path deb = tmp.resolve("hello-date_1.0_all.deb");
    Tools.run(List.of("env", "SOURCE_DATE_EPOCH=1700000123", "dpkg-deb", "--root-owner-group", "-Zxz", "--build",
        tmp.resolve("pkg").toString(), deb.toString()), tmp, 60).ok();
    assertEquals(1700000123L, DebFile.buildTime(deb, "hello-date"));

    Path notADeb = Files.writeString(tmp.resolve("junk.deb"), "not an archive");
    IOException e = assertThrows(IOException.class, () -> DebFile.buildTime(notADeb, "junk"));
    assertTrue(e.getMessage().contains("junk"), e.getMessage());
  }
}
