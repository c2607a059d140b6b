package io.hypervisor.assembler.pkgrepo.rpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Resolver;
import io.hypervisor.assembler.pkgrepo.Source;
import io.hypervisor.assembler.pkgrepo.Universe;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** primary.xml as createrepo_c writes it, and the rpm resolver on it: file provides, rich and conditional dependencies. */
class PrimaryXmlTest {
  static String pkg(String name, String evr, String arch, String inner) {
    String[] e = evr.split("[:-]");
    String epoch = evr.contains(":") ? e[0] : "0";
    String ver = evr.contains(":") ? e[1] : e[0];
    String rel = evr.contains(":") ? e[2] : e[1];
    return "<package type=\"rpm\"><name>" + name + "</name><arch>" + arch + "</arch>"
        + "<version epoch=\"" + epoch + "\" ver=\"" + ver + "\" rel=\"" + rel + "\"/>"
        + "<checksum type=\"sha256\" pkgid=\"YES\">" + "a".repeat(64) + "</checksum>"
        + "<size package=\"100\" installed=\"1\" archive=\"1\"/>"
        + "<location href=\"Packages/" + name + "-" + ver + "-" + rel + "." + arch + ".rpm\"/>"
        + "<format><rpm:provides><rpm:entry name=\"" + name + "\" flags=\"EQ\" epoch=\"" + epoch + "\" ver=\"" + ver
        + "\" rel=\"" + rel + "\"/></rpm:provides>" + inner + "</format></package>\n";
  }

  static final String PRIMARY = "<?xml version=\"1.0\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" "
      + "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"7\">\n"
      + pkg("bash", "5.1.8-9.el9", "x86_64", "<file>/usr/bin/bash</file><file>/bin/sh</file>")
      + pkg("bash", "5.1.8-9.el9", "i686", "")
      + pkg("glibc-langpack-en", "2.34-100.el9", "x86_64", "")
      + pkg("glibc", "2.34-100.el9", "x86_64",
          "<rpm:requires><rpm:entry name=\"(glibc-langpack-en or glibc-all-langpacks)\"/>"
          + "<rpm:entry name=\"rpmlib(PayloadFilesHavePrefix)\" flags=\"LE\" epoch=\"0\" ver=\"4.0\" rel=\"1\"/>"
          + "</rpm:requires>")
      + pkg("containerd.io", "2.2.0-1.el9", "x86_64",
          "<rpm:requires><rpm:entry name=\"/bin/sh\" pre=\"1\"/><rpm:entry name=\"glibc\" flags=\"GE\" epoch=\"0\" ver=\"2.34\"/>"
          + "<rpm:entry name=\"(container-selinux if selinux-policy)\"/></rpm:requires>"
          + "<rpm:conflicts><rpm:entry name=\"runc\"/></rpm:conflicts>")
      + pkg("container-selinux", "3:2.229.0-1.el9", "noarch", "")
      + pkg("runc", "4:1.1.12-1.el9", "x86_64", "")
      + "</metadata>\n";

  static Universe universe() throws IOException {
    Universe u = new Universe(RpmVersion.SCHEME, RpmIndexer.arches("x86_64"));
    PrimaryXml.parse(new ByteArrayInputStream(PRIMARY.getBytes(StandardCharsets.UTF_8)), "http://m.example/os/",
        new Source("baseos", "image /etc/yum.repos.d/rocky.repo", true), u::add, "test");
    return u;
  }

  static List<String> ids(Resolver.Resolution r) {
    assertTrue(r.ok(), r.problems().toString());
    return r.install().stream().map(Candidate::id).toList();
  }

  @Test
  void parsesPackagesForTheTargetArchitectures() throws IOException {
    Universe u = universe();
    assertEquals(6, u.size(), "the i686 bash is not for an x86_64 image");
    Candidate c = u.versions("containerd.io").get(0);
    assertEquals("http://m.example/os/Packages/containerd.io-2.2.0-1.el9.x86_64.rpm", c.url());
    assertEquals("3:2.229.0-1.el9", u.versions("container-selinux").get(0).version());
    assertEquals(1, c.preRequires().size());
    assertEquals(List.of("glibc"), u.versions("glibc").stream().map(Candidate::name).toList());
  }

  @Test
  void fileProvidesRichAndConditionalDependencies() throws IOException {
    Resolver.Resolution r = new Resolver(universe(), List.of()).resolve(List.of(
        new Resolver.Request(PackageRef.of("containerd.io"), "distro", "runtime")));
    assertEquals(List.of("bash=5.1.8-9.el9", "glibc-langpack-en=2.34-100.el9", "glibc=2.34-100.el9",
        "containerd.io=2.2.0-1.el9"), ids(r), "/bin/sh by file; the first alternative; container-selinux only with selinux-policy");
    Resolver.Resolution withConflict = new Resolver(universe(), List.of()).resolve(List.of(
        new Resolver.Request(PackageRef.of("containerd.io"), null, "runtime"),
        new Resolver.Request(PackageRef.of("runc"), null, "recipe")));
    assertTrue(withConflict.problems().stream().anyMatch(p -> p.startsWith("containerd.io 2.2.0-1.el9 conflicts with runc")),
        withConflict.problems().toString());
  }

  @Test
  void aConditionThatHoldsPullsTheDependencyIn() throws IOException {
    List<Candidate> installed = RpmInstalled.parse("N\tselinux-policy\t0\t38.1.35\t2.el9\tnoarch\n"
        + "P\tselinux-policy\t8\t38.1.35-2.el9\nN\tgpg-pubkey\t0\t350d275d\t6395f0fb\t(none)\n");
    assertEquals(List.of("selinux-policy=38.1.35-2.el9"), installed.stream().map(Candidate::id).toList());
    Resolver.Resolution r = new Resolver(universe(), installed).resolve(List.of(
        new Resolver.Request(PackageRef.of("containerd.io"), null, "runtime")));
    assertTrue(ids(r).contains("container-selinux=3:2.229.0-1.el9"), ids(r).toString());
  }

  @Test
  void onlySha256PackageChecksumsAreAccepted() {
    String sha1 = PRIMARY.replace("type=\"sha256\"", "type=\"sha1\"");
    IOException e = assertThrows(IOException.class, () -> PrimaryXml.parse(new ByteArrayInputStream(
        sha1.getBytes(StandardCharsets.UTF_8)), "http://m/", new Source("x", "recipe", false), c -> { }, "test"));
    assertTrue(e.getMessage().contains("only sha256 package checksums"), e.getMessage());
  }
}
