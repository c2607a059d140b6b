package io.hypervisor.assembler.pkgrepo.rpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.TestKeys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An image's dnf repositories: variables, mirror lists, keys and the refusals. */
class YumReposTest {
  @TempDir
  Path root;

  @BeforeEach
  void image() throws IOException {
    Files.createDirectories(root.resolve("etc/yum.repos.d"));
    Files.createDirectories(root.resolve("etc/pki/rpm-gpg"));
    Files.createDirectories(root.resolve("etc/dnf/vars"));
    Files.write(root.resolve("etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9"), TestKeys.armoredPublicKey("Rocky <t@example.invalid>"));
    Files.writeString(root.resolve("etc/os-release"), "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n"
        + "VERSION_ID=\"9.4\"\n");
    Files.writeString(root.resolve("etc/dnf/vars/contentdir"), "pub/rocky\n");
  }

  List<RpmRepository> read() throws IOException {
    return YumRepos.read(ImageFiles.directory(root), "x86_64");
  }

  @Test
  void rockyStyleRepositories() throws IOException {
    Files.writeString(root.resolve("etc/yum.repos.d/rocky.repo"), """
        [baseos]
        name=Rocky Linux $releasever - BaseOS
        mirrorlist=https://mirrors.example/mirrorlist?arch=$basearch&repo=BaseOS-$releasever$rltype
        #baseurl=http://dl.example/$contentdir/$releasever/BaseOS/$basearch/os/
        gpgcheck=1
        enabled=1
        countme=1
        gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9

        [appstream]
        name=Rocky Linux $releasever - AppStream
        baseurl=http://dl.example/$contentdir/$releasever/AppStream/$basearch/os/
        gpgcheck=1
        repo_gpgcheck=1
        enabled=1
        gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9

        [devel]
        baseurl=http://dl.example/devel/
        enabled=0
        gpgcheck=0
        """);
    List<RpmRepository> r = read();
    assertEquals(List.of("baseos", "appstream"), r.stream().map(RpmRepository::name).toList());
    assertEquals("https://mirrors.example/mirrorlist?arch=x86_64&repo=BaseOS-9$rltype", r.get(0).mirrorList(),
        "RHEL-like: releasever is the major version; unknown variables stay");
    assertEquals(List.of("http://dl.example/pub/rocky/9/AppStream/x86_64/os/"), r.get(1).baseUrls());
    assertEquals(RpmRepository.MetadataSignature.OFF, r.get(0).metadataSignature());
    assertEquals(RpmRepository.MetadataSignature.REQUIRED, r.get(1).metadataSignature());
    assertTrue(r.get(0).source().image());
  }

  @Test
  void unsignedOrRemotelyKeyedRepositoriesAreRefused() throws IOException {
    Files.writeString(root.resolve("etc/yum.repos.d/x.repo"), "[x]\nbaseurl=http://x.example/\ngpgcheck=0\n");
    IOException e = assertThrows(IOException.class, this::read);
    assertTrue(e.getMessage().contains("gpgcheck=0"), e.getMessage());
    Files.writeString(root.resolve("etc/yum.repos.d/x.repo"),
        "[x]\nbaseurl=http://x.example/\ngpgcheck=1\ngpgkey=https://x.example/key.asc\n");
    e = assertThrows(IOException.class, this::read);
    assertTrue(e.getMessage().contains("cannot be trusted without a pin"), e.getMessage());
  }

  @Test
  void mirrorListsAndMetalinks() throws IOException {
    assertEquals(List.of("http://a.example/9/BaseOS/x86_64/os/", "https://b.example/os/"), RpmIndexer.mirrors(
        "# comment\nhttp://a.example/9/BaseOS/x86_64/os/\nhttps://b.example/os\n".getBytes(StandardCharsets.UTF_8)));
    String metalink = """
        <?xml version="1.0" encoding="utf-8"?>
        <metalink version="3.0" xmlns="http://www.metalinker.org/">
         <files><file name="repomd.xml"><resources maxconnections="1">
          <url protocol="rsync" type="rsync">rsync://r.example/fedora/repodata/repomd.xml</url>
          <url protocol="https" type="https">https://f.example/fedora/40/x86_64/os/repodata/repomd.xml</url>
         </resources></file></files>
        </metalink>
        """;
    assertEquals(List.of("https://f.example/fedora/40/x86_64/os/"), RpmIndexer.mirrors(metalink.getBytes(StandardCharsets.UTF_8)));
  }
}
