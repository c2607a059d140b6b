package io.hypervisor.assembler.guestfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.Distro;
import org.junit.jupiter.api.Test;

/**
 * The identity of the rpm family's images as libguestfs 1.48 reports them (read in its
 * inspect_fs_unix.ml: AlmaLinux as redhat-based, CentOS Stream as centos) and as their
 * os-release files say (the published files of each release), matched against recipe names.
 */
class OsReleaseTest {
  private static final String ALMA = """
      NAME="AlmaLinux"
      VERSION="9.4 (Seafoam Ocelot)"
      ID="almalinux"
      ID_LIKE="rhel centos fedora"
      VERSION_ID="9.4"
      PLATFORM_ID="platform:el9"
      PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
      """;
  private static final String CENTOS = """
      NAME="CentOS Stream"
      VERSION="9"
      ID="centos"
      ID_LIKE="rhel fedora"
      VERSION_ID="9"
      PLATFORM_ID="platform:el9"
      PRETTY_NAME="CentOS Stream 9"
      """;
  private static final String ROCKY = "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.4\"\n";
  private static final String FEDORA = "NAME=\"Fedora Linux\"\nVERSION=\"40 (Cloud Edition)\"\nID=fedora\nVERSION_ID=40\n";
  private static final String DEBIAN = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n";

  @Test
  void osReleaseNamesWhatInspectionCannot() {
    assertEquals(new OsRelease("almalinux", 9, 4), OsRelease.of("redhat-based", 9, 4, ALMA));
    assertEquals(new OsRelease("centos-stream", 9, 0), OsRelease.of("centos", 9, 0, CENTOS));
    assertEquals(new OsRelease("rocky", 9, 4), OsRelease.of("rocky", 9, 4, ROCKY));
    assertEquals(new OsRelease("fedora", 40, 0), OsRelease.of("fedora", 40, 0, FEDORA));
    // Debian's os-release has no minor; inspection's (from debian_version) stays
    assertEquals(new OsRelease("debian", 12, 15), OsRelease.of("debian", 12, 15, DEBIAN));
    // nothing usable: inspection's answer
    assertEquals(new OsRelease("debian", 13, 0), OsRelease.of("debian", 13, 0, "ID=debian\n"));
    assertEquals(new OsRelease("ubuntu", 24, 4), OsRelease.of("ubuntu", 24, 4, null));
    assertEquals(new OsRelease("rocky", 9, 4), OsRelease.of("rocky", 9, 4, "ID=\"$(reboot)\"\nVERSION_ID=9\n"));
  }

  @Test
  void recipesMatchTheImageByAnyNameOfItsDistribution() {
    assertTrue(Distro.parse("almalinux-9").matches("almalinux", 9, 4));
    assertTrue(Distro.parse("centos-stream-9").matches("centos", 9, 0));
    assertTrue(Distro.parse("rhel-9").matches("redhat-based", 9, 2));
    assertTrue(Distro.parse("rocky-9.4").matches("rocky", 9, 4));
    assertFalse(Distro.parse("rocky-9.3").matches("rocky", 9, 4));
    assertTrue(Distro.parse("ubuntu-24.04").matches("ubuntu", 24, 4));
    assertFalse(Distro.parse("ubuntu-24.04").matches("ubuntu", 22, 4));
    assertFalse(Distro.parse("almalinux-9").matches("rocky", 9, 4), "a Rocky image is not AlmaLinux");
    assertFalse(Distro.parse("debian-12").matches("debian", 13, 0));
  }
}
