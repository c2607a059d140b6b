package io.hypervisor.assembler.pkgrepo.rpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An .rpm's BUILDTIME read from its header, against rpmbuild (which writes it) and rpm -qp (which reads it). */
class RpmFileTest {
  @TempDir
  Path tmp;

  @Test
  void theBuildTimeComesFromTheMainHeader() throws Exception {
    Path top = tmp.resolve("rpmbuild");
    Files.createDirectories(top.resolve("SPECS"));
    Files.writeString(top.resolve("SPECS/hello-date.spec"), """
        Name: hello-date
        Version: 1.0
        Release: 1
        Summary: build time test
        License: test
        BuildArch: noarch
        %description
        build time test
        %install
        mkdir -p %{buildroot}/usr/share/hello-date
        echo hi > %{buildroot}/usr/share/hello-date/README
        %files
        /usr/share/hello-date/README
        """);
    Tools.run(List.of("env", "SOURCE_DATE_EPOCH=1700000456", "rpmbuild", "--quiet", "--define", "_topdir " + top,
        "--define", "use_source_date_epoch_as_buildtime 1", "-bb", top.resolve("SPECS/hello-date.spec").toString()),
        tmp, 120).ok();
    Path rpm = top.resolve("RPMS/noarch/hello-date-1.0-1.noarch.rpm");
    assertEquals(1700000456L, RpmFile.buildTime(rpm, "hello-date"));
    String byRpm = Tools.run(List.of("rpm", "-qp", "--qf", "%{BUILDTIME}", rpm.toString()), tmp, 60).ok().out();
    assertEquals(byRpm.strip(), Long.toString(RpmFile.buildTime(rpm, "hello-date")));

    Path notAnRpm = Files.writeString(tmp.resolve("junk.rpm"), "not an rpm package at all, not even close to one....");
    assertThrows(IOException.class, () -> RpmFile.buildTime(notAnRpm, "junk"));
  }
}
