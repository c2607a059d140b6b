package io.hypervisor.assembler.oci.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageException;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.ImageVerifier;
import io.hypervisor.assembler.oci.Puller;
import io.hypervisor.assembler.oci.layout.LayoutSource;
import io.hypervisor.assembler.oci.layout.LayoutWriter;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistrySource;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.TestContainerd;
import io.hypervisor.assembler.testworld.TestRegistry;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;

/** Archives we write, read by real tools; archives real tools write, read by us. */
@Tag("integration")
class ArchivesIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> IMAGES = List.of("registry.k8s.io/pause:3.10.1", "quay.io/cilium/cilium:v1.19.3",
      "registry.k8s.io/coredns/coredns:v1.12.1", "registry.k8s.io/metrics-server/metrics-server:v0.9.0");
  static TestRegistry registry;
  static Path work;
  static ContentStore store;
  static List<ImageRecord> pulled = new ArrayList<>();

  @TempDir
  Path tmp;

  @BeforeAll
  static void pull() throws Exception {
    registry = TestRegistry.builder().build().start();
    work = Files.createTempDirectory("archives");
    store = ContentStore.open(work.resolve("cas"));
    Path certs = work.resolve("certs.d");
    for (String reg : List.of("registry.k8s.io", "quay.io")) {
      Files.createDirectories(certs.resolve(reg));
      Files.writeString(certs.resolve(reg).resolve("hosts.toml"), "server = \"" + registry.url() + "\"\n");
    }
    try (RegistrySource src = new RegistrySource(HostsConfig.load(certs), CredentialStore.none(),
        HttpSettings.defaults(), EventSink.NONE, Map.of()); Puller p = new Puller(store, 4, true)) {
      for (String r : IMAGES) {
        pulled.add(p.pull(src, ImageRef.parse(r), List.of(Platform.LINUX_AMD64)));
      }
    }
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  @Test
  void ctrImportsOurArchiveCompletelyUnderTheFullNames() throws Exception {
    Path tar = tmp.resolve("images.tar");
    LayoutWriter.writeTar(pulled, store, tar);
    try (TestContainerd ctrd = TestContainerd.start(tmp.resolve("root"), false, null)) {
      ctrd.ctr("-n", "k8s.io", "images", "import", "--no-unpack", tar.toString()).ok();
      String ls = ctrd.ctr("-n", "k8s.io", "images", "ls").ok().out();
      for (ImageRecord img : pulled) {
        String line = ls.lines().filter(l -> l.startsWith(img.ref().tagged() + " ")).findFirst()
            .orElseThrow(() -> new AssertionError(img.ref() + " not imported:\n" + ls));
        assertTrue(line.contains(img.target().digest().toString()), "original digest kept: " + line);
      }
      String check = ctrd.ctr("-n", "k8s.io", "images", "check").ok().out();
      assertEquals(IMAGES.size(), check.lines().filter(l -> l.contains("complete (")).count(), check);
    }
  }

  @Test
  void skopeoReadsOurArchiveAndDirectory() throws Exception {
    Path tar = tmp.resolve("one.tar");
    LayoutWriter.writeTar(List.of(pulled.get(1)), store, tar);
    JsonNode j = JSON.readTree(Tools.run(List.of("skopeo", "inspect", "oci-archive:" + tar)).ok().out());
    assertEquals(pulled.get(1).target().digest().toString(), j.get("Digest").asText());
    Path dir = tmp.resolve("layout");
    LayoutWriter.writeDirectory(pulled, store, dir);
    // skopeo's oci: transport only looks at OCI-typed index entries (a Docker manifest list such as
    // coredns's is skipped, though containerd imports it); ask it for an OCI one.
    JsonNode d = JSON.readTree(Tools.run(List.of("skopeo", "inspect", "oci:" + dir + ":3.10.1")).ok().out());
    assertEquals(pulled.get(0).target().digest().toString(), d.get("Digest").asText());
    assertTrue(Tools.run(List.of("skopeo", "inspect", "docker-archive:" + tar)).ok().out().contains("\"Layers\""),
        "the docker manifest.json makes it a docker archive too");
  }

  @Test
  void theSameImagesGiveTheSameArchiveBytes() throws Exception {
    LayoutWriter.writeTar(pulled, store, tmp.resolve("a.tar"));
    LayoutWriter.writeTar(pulled, store, tmp.resolve("b.tar"));
    assertEquals(-1L, Files.mismatch(tmp.resolve("a.tar"), tmp.resolve("b.tar")));
  }

  @Test
  void readsOurOwnLayoutsBack() throws Exception {
    Path tar = tmp.resolve("all.tar");
    LayoutWriter.writeTar(pulled, store, tar);
    ContentStore other = ContentStore.open(tmp.resolve("cas"));
    try (ArchiveSource src = ArchiveSource.open(tar, other); Puller p = new Puller(other, 2, true)) {
      for (ImageRecord img : pulled) {
        ImageRecord back = p.pull(src, ImageRef.parse(img.ref().tagged()), List.of(Platform.LINUX_AMD64));
        assertEquals(img.target(), back.target());
        assertEquals(List.of(), ImageVerifier.verify(back, other));
      }
    }
    Path dir = tmp.resolve("dir");
    LayoutWriter.writeDirectory(pulled, store, dir);
    try (LayoutSource src = LayoutSource.directory(dir); Puller p = new Puller(ContentStore.open(tmp.resolve("cas3")), 2, true)) {
      assertEquals(pulled.get(0).target(), p.pull(src, ImageRef.parse(IMAGES.get(0)), List.of(Platform.LINUX_AMD64)).target());
    }
  }

  @Test
  void readsSkopeoOciArchivesKeepingTheDigest() throws Exception {
    String ref = "registry.k8s.io/pause:3.10.1";
    Path tar = tmp.resolve("skopeo-oci.tar");
    Tools.run(List.of("skopeo", "copy", "--all", "--src-tls-verify=false", "docker://" + registry.host() + "/pause:3.10.1",
        "oci-archive:" + tar + ":" + ref)).ok();
    ContentStore s = ContentStore.open(tmp.resolve("cas"));
    try (ArchiveSource src = ArchiveSource.open(tar, s); Puller p = new Puller(s, 2, true)) {
      ImageRecord rec = p.pull(src, ImageRef.parse(ref), List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64));
      assertEquals(Fixtures.published(ref).digest(), rec.target().digest().toString());
    }
  }

  @Test
  void readsLegacyDockerArchivesByTagAndExplainsPinnedDigests() throws Exception {
    Path tar = tmp.resolve("docker.tar");
    Tools.run(List.of("skopeo", "copy", "--src-tls-verify=false", "docker://" + registry.host() + "/pause:3.10.1",
        "docker-archive:" + tar + ":registry.k8s.io/pause:3.10.1")).ok();
    ContentStore s = ContentStore.open(tmp.resolve("cas"));
    try (ArchiveSource src = ArchiveSource.open(tar, s); Puller p = new Puller(s, 2, true)) {
      assertTrue(src.legacyDockerSave());
      ImageRecord rec = p.pull(src, ImageRef.parse("registry.k8s.io/pause:3.10.1"), List.of(Platform.LINUX_AMD64));
      assertEquals(List.of(), ImageVerifier.verify(rec, s));
      assertNotEquals(Fixtures.published("registry.k8s.io/pause:3.10.1").digest(), rec.target().digest().toString());
      String pinned = "registry.k8s.io/pause:3.10.1@" + Fixtures.published("registry.k8s.io/pause:3.10.1").digest();
      ImageException e = assertThrows(ImageException.class, () -> src.resolve(ImageRef.parse(pinned)));
      assertTrue(e.getMessage().contains("docker save rewrites manifests"), e.getMessage());
      assertTrue(e.getMessage().contains("pin the image by tag"), e.getMessage());
    }
  }

  @Test
  void readsCtrExportArchives() throws Exception {
    Path ours = tmp.resolve("ours.tar");
    LayoutWriter.writeTar(List.of(pulled.get(0)), store, ours);
    Path exported = tmp.resolve("ctr-export.tar");
    try (TestContainerd ctrd = TestContainerd.start(tmp.resolve("root"), false, null)) {
      ctrd.ctr("-n", "k8s.io", "images", "import", "--no-unpack", ours.toString()).ok();
      ctrd.ctr("-n", "k8s.io", "images", "export", exported.toString(), IMAGES.get(0)).ok();
    }
    ContentStore s = ContentStore.open(tmp.resolve("cas"));
    try (ArchiveSource src = ArchiveSource.open(exported, s); Puller p = new Puller(s, 2, true)) {
      assertTrue(!src.legacyDockerSave(), "ctr export writes an OCI layout (plus manifest.json)");
      ImageRecord rec = p.pull(src, ImageRef.parse(IMAGES.get(0)), List.of(Platform.LINUX_AMD64));
      assertEquals(pulled.get(0).target().digest(), rec.target().digest());
    }
  }

  @Test
  void hostileArchivesAreRefused() throws Exception {
    ContentStore s = ContentStore.open(tmp.resolve("cas"));
    for (String[] evil : List.of(new String[] {"file", "../../etc/evil"}, new String[] {"file", "/etc/evil"},
        new String[] {"symlink", "blobs/sha256/x", "../../../etc/passwd"},
        new String[] {"link", "oci-layout", "../outside"})) {
      Path tar = tmp.resolve("evil.tar");
      try (OutputStream out = Files.newOutputStream(tar); TarArchiveOutputStream t = new TarArchiveOutputStream(out)) {
        TarArchiveEntry e;
        if (evil[0].equals("file")) {
          e = new TarArchiveEntry(evil[1], true);
          byte[] b = "x".getBytes(StandardCharsets.UTF_8);
          e.setSize(b.length);
          t.putArchiveEntry(e);
          t.write(b);
        } else {
          e = new TarArchiveEntry(evil[1], evil[0].equals("symlink") ? TarArchiveEntry.LF_SYMLINK : TarArchiveEntry.LF_LINK, true);
          e.setLinkName(evil[2]);
          t.putArchiveEntry(e);
        }
        t.closeArchiveEntry();
      }
      // the user's own file, hostile: an input error (exit 2), nothing used
      io.hypervisor.assembler.model.AssemblerException ex = assertThrows(
          io.hypervisor.assembler.model.AssemblerException.class, () -> ArchiveSource.open(tar, s),
          String.join(" ", evil));
      assertTrue(ex.getMessage().contains("refusing the archive"), ex.getMessage());
      assertEquals(2, ex.kind().exitCode());
    }
  }
}
