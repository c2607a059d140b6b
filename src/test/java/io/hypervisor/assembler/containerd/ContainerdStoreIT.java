package io.hypervisor.assembler.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.bbolt.BoltChecker;
import io.hypervisor.assembler.bbolt.BoltReader;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.ContainerdLine;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.Puller;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistrySource;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.TestContainerd;
import io.hypervisor.assembler.testworld.TestRegistry;
import io.hypervisor.assembler.testworld.Tools;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A store we write for each containerd line a node can run, proven by that line's real
 * containerd (Debian's 1.6.20, 1.7.24 and 2.1.x) started on the node's own config.toml with CRI
 * enabled, so its image loading runs: every name listed with the right digest, every image
 * complete, nothing removed by the start-up garbage collection, the sandbox image pinned where the
 * line pins, a seeded image and the sandbox running as containers offline, and the meta.db still
 * clean under bbolt's own check and ours after containerd committed its own transactions. The
 * same binary's {@code config dump} of our config shows CRI on, systemd cgroups and the sandbox.
 */
@Tag("integration")
class ContainerdStoreIT {
  static final String SANDBOX = "registry.k8s.io/pause:3.10.1";
  static TestRegistry registry;
  static ContentStore store;
  static List<ImageRecord> images = new ArrayList<>();

  @TempDir
  Path tmp;

  @BeforeAll
  static void pullEveryFixtureImage() throws Exception {
    registry = TestRegistry.builder().build().start();
    Path work = Files.createTempDirectory("ctrd-it");
    store = ContentStore.open(work.resolve("cas"));
    try (RegistrySource src = new RegistrySource(HostsConfig.load(registry.hostsDir(work)), CredentialStore.none(),
        HttpSettings.defaults(), EventSink.NONE, Map.of()); Puller p = new Puller(store, 4, true)) {
      for (Fixtures.PublishedImage img : Fixtures.publishedImages()) {
        if (!img.reference().contains("bench-large")) {
          images.add(p.pull(src, ImageRef.parse(img.reference()), List.of(Platform.LINUX_AMD64)));
        }
      }
    }
  }

  @AfterAll
  static void stop() {
    registry.close();
  }

  /** Writes the store as the tar stream the image build uses and unpacks it with GNU tar. */
  Path seed(String containerdLine) throws Exception {
    Path tar = tmp.resolve("store.tar");
    StoreOptions o = StoreOptions.forContainerd(containerdLine, SANDBOX, Platform.LINUX_AMD64, Instant.now());
    try (FileChannel ch = FileChannel.open(tar, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        TarWriter w = new TarWriter(ch, store, 0)) {
      ContainerdStore.write(images, o, store, w, "var/lib/containerd", null);
    }
    Path rootfs = Files.createDirectories(tmp.resolve("rootfs"));
    Tools.run(List.of("tar", "-xf", tar.toString(), "-C", rootfs.toString())).ok();
    return rootfs.resolve("var/lib/containerd");
  }

  static List<String> oracle(Path db) {
    Tools.Result r = Tools.run(List.of(Fixtures.part("bbolt-check").resolve("bbolt-check").toString(), db.toString()));
    return r.out().lines().filter(l -> !l.endsWith(": ok")).toList();
  }

  @ParameterizedTest(name = "containerd {0}")
  @ValueSource(strings = {"1.6", "1.7", "2.1"})
  void containerdListsChecksKeepsPinsAndRunsTheSeededImages(String line) throws Exception {
    ContainerdLine l = ContainerdLine.parse(line);
    Path root = seed(line);
    Path db = root.resolve("io.containerd.metadata.v1.bolt/meta.db");
    assertEquals(List.of(), oracle(db));
    int blobs;
    try (var s = Files.list(root.resolve("io.containerd.content.v1.content/blobs/sha256"))) {
      blobs = (int) s.count();
    }
    try (TestContainerd ctrd = TestContainerd.start(line, root, true, SANDBOX)) {
      assertTrue(ctrd.ctr("version").ok().out().matches("(?s).*Server:.*Version: +v?" + java.util.regex.Pattern
          .quote(line) + "\\..*"), "the daemon is containerd " + line + ": " + ctrd.ctr("version").out());
      // The node's config as this binary reads it: CRI on, systemd cgroups, the sandbox image, hosts.toml dir.
      String dump = Tools.run(List.of(TestContainerd.bin(line).resolve("containerd").toString(), "--config",
          ctrd.configFile().toString(), "config", "dump")).ok().out();
      assertTrue(dump.matches("(?s).*disabled_plugins = \\[\\].*"), dump);
      assertTrue(dump.contains("SystemdCgroup = true"), dump);
      assertTrue(dump.replace('\'', '"').contains(l.configVersion() == 3 ? "sandbox = \"" + SANDBOX + "\""
          : "sandbox_image = \"" + SANDBOX + "\""), dump);
      assertTrue(dump.replace('\'', '"').contains("config_path = \"/etc/containerd/certs.d\""), dump);
      String plugins = ctrd.ctr("plugins", "ls").ok().out();
      assertTrue(plugins.lines().anyMatch(p -> p.strip().matches("io\\.containerd\\.grpc\\.v1\\s+cri\\s.*\\sok")), plugins);

      String ls = ctrd.ctr("-n", "k8s.io", "images", "ls", "-q").ok().out();
      for (ImageRecord img : images) {
        String digest = Fixtures.published(img.ref().tagged()).digest();
        assertTrue(ls.contains(img.ref().tagged() + "\n"), img.ref().tagged() + " listed:\n" + ls);
        assertTrue(ls.contains(img.ref().name() + "@" + digest + "\n"), "repo digest name of " + img.ref());
        assertTrue(ls.contains(img.platforms().get(0).config().digest() + "\n"), "image id name of " + img.ref());
      }
      assertEquals(images.size() * 3, ls.lines().count(), ls);
      String check = ctrd.ctr("-n", "k8s.io", "images", "check").ok().out();
      assertEquals(images.size() * 3, check.lines().filter(x -> x.contains(" complete (")).count(), check);
      String content = ctrd.ctr("-n", "k8s.io", "content", "ls", "-q").ok().out();
      assertEquals(blobs, content.lines().count(), "start-up GC kept every blob record");
      assertFalse(ctrd.log().contains("removed content") || ctrd.log().contains("remove content"), "nothing collected");
      if (line.equals("1.6")) {
        // containerd's log escapes the quotes: msg="Loaded image \"registry.k8s.io/pause:3.10.1\""
        assertTrue(ctrd.log().contains("Loaded image \\\"" + SANDBOX + "\\\""), "CRI loaded the sandbox image");
      }
      String pause = ctrd.ctr("-n", "k8s.io", "images", "ls").ok().out().lines()
          .filter(x -> x.startsWith(SANDBOX + " ")).findFirst().orElseThrow();
      assertEquals(l.pinsSandbox(), pause.contains("io.cri-containerd.pinned=pinned"), pause);

      // runc keeps container state under /run across containerd instances: unique ids, cleaned up.
      String id = line.replace('.', '-') + "-" + System.nanoTime();
      Tools.Result run = ctrd.ctr("-n", "k8s.io", "run", "--rm", "docker.io/library/busybox:1.36", "demo-" + id,
          "/usr/local/bin/busybox-demo");
      assertEquals(0, run.code(), run.err() + ctrd.log());
      assertEquals("docker.io/library/busybox:1.36 (amd64) - assemble test world stand-in image", run.out().trim());
      ctrd.ctr("-n", "k8s.io", "run", "-d", SANDBOX, "sandbox-" + id).ok();
      Thread.sleep(1000);
      assertTrue(ctrd.ctr("-n", "k8s.io", "task", "ls").ok().out().contains("RUNNING"), "pause stays up");
      ctrd.ctr("-n", "k8s.io", "task", "kill", "sandbox-" + id).ok();
      Thread.sleep(500);
      ctrd.ctr("-n", "k8s.io", "task", "delete", "sandbox-" + id);
      ctrd.ctr("-n", "k8s.io", "container", "delete", "sandbox-" + id).ok();
    }
    assertEquals(List.of(), oracle(db), "still clean after containerd " + line + "'s own commits");
    assertEquals(List.of(), BoltChecker.check(db));
    assertTrue(BoltReader.read(db).child("v1").child("k8s.io").child("images").entries().size() >= images.size() * 3);
  }
}
