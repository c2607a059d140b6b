package io.hypervisor.assembler.oci.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.Event;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageException;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.ImageVerifier;
import io.hypervisor.assembler.oci.Puller;
import io.hypervisor.assembler.testworld.FaultProxy;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.RegistryMode;
import io.hypervisor.assembler.testworld.StaticServer;
import io.hypervisor.assembler.testworld.TestRegistry;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The registry client against a real docker-registry in every mode of the test world. */
@Tag("integration")
class RegistryClientIT {
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpSettings FAST = HttpSettings.defaults().withBackoff(Duration.ofMillis(50), Duration.ofMillis(500))
      .withStallTimeout(Duration.ofSeconds(2));
  static final List<Platform> BOTH = List.of(Platform.LINUX_AMD64, Platform.LINUX_ARM64);

  @TempDir
  Path tmp;


  CredentialStore credentials(TestRegistry r, String password) throws IOException {
    Path cfg = tmp.resolve("docker-" + System.nanoTime() + ".json");
    String auth = Base64.getEncoder().encodeToString((TestRegistry.USER + ":" + password).getBytes());
    Files.writeString(cfg, "{\"auths\": {\"" + r.host() + "\": {\"auth\": \"" + auth + "\"}}}");
    return CredentialStore.load(cfg, null);
  }

  RegistrySource source(TestRegistry r, CredentialStore creds, EventSink events) throws IOException {
    return new RegistrySource(HostsConfig.load(r.hostsDir(tmp)), creds, FAST, events, Map.of());
  }

  RegistrySource source(TestRegistry r) throws IOException {
    return source(r, credentials(r, TestRegistry.PASSWORD), EventSink.NONE);
  }

  static List<Fixtures.PublishedImage> smallImages() {
    return Fixtures.publishedImages().stream().filter(i -> !i.reference().contains("bench-large")).toList();
  }

  static boolean isIndex(Fixtures.PublishedImage img) {
    return img.mediaType().contains("index") || img.mediaType().contains("list");
  }

  /** The amd64 child of an index, as skopeo reports it. */
  static String skopeoChild(TestRegistry r, Fixtures.PublishedImage img, String arch) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("skopeo", "inspect", "--raw"));
    cmd.addAll(r.skopeoFlags(""));
    cmd.add("docker://" + r.host() + "/" + img.path());
    JsonNode idx = JSON.readTree(Tools.run(cmd).ok().out());
    for (JsonNode m : idx.get("manifests")) {
      if (m.path("platform").path("architecture").asText().equals(arch)) {
        return m.get("digest").asText();
      }
    }
    return null;
  }

  @ParameterizedTest
  @EnumSource(value = RegistryMode.class, names = "FAULT_PROXY", mode = EnumSource.Mode.EXCLUDE)
  void pullsEveryFixtureImageWithTheDigestsSkopeoSees(RegistryMode mode) throws Exception {
    try (TestRegistry r = mode.registry().start(); RegistrySource src = source(r)) {
      ContentStore store = ContentStore.open(tmp.resolve("cas"));
      Map<Fixtures.PublishedImage, ImageRecord> pulled = new java.util.LinkedHashMap<>();
      try (Puller puller = new Puller(store, 4, true)) {
        for (Fixtures.PublishedImage img : smallImages()) {
          ImageRef ref = ImageRef.parse(img.reference());
          pulled.put(img, puller.pull(src, ref, isIndex(img) ? BOTH : List.of(Platform.LINUX_AMD64)));
        }
      }
      int tokens = r.tokenServer() == null ? 0 : r.tokenServer().issued();
      for (var e : pulled.entrySet()) {
        Fixtures.PublishedImage img = e.getKey();
        ImageRecord rec = e.getValue();
        assertEquals(img.digest(), rec.target().digest().toString(), mode + " " + img.reference());
        assertEquals(img.mediaType(), rec.target().mediaType(), mode + " " + img.reference());
        assertEquals(List.of(), ImageVerifier.verify(rec, store), mode + " " + img.reference());
        if (isIndex(img)) {
          assertEquals(skopeoChild(r, img, "amd64"), rec.platforms().get(0).manifest().digest().toString());
          assertEquals(skopeoChild(r, img, "arm64"), rec.platforms().get(1).manifest().digest().toString());
        }
      }
      if (mode == RegistryMode.REDIRECT) {
        List<StaticServer.Request> hops = r.redirectTarget().requests();
        assertFalse(hops.isEmpty(), "blobs were fetched from the redirect target");
        assertTrue(hops.stream().noneMatch(StaticServer.Request::hasAuthorization),
            "no credentials ever reached the storage host");
      }
      if (mode == RegistryMode.TOKEN_ANONYMOUS || mode == RegistryMode.TOKEN_CREDENTIALS) {
        int repos = smallImages().size();
        assertEquals(repos, tokens, "one token per repository scope, cached across manifests and layers");
      }
    }
  }

  @Test
  void wrongCredentialsFailClearlyWithoutShowingThem() throws Exception {
    try (TestRegistry r = TestRegistry.builder().auth(TestRegistry.Auth.TOKEN_PRIVATE).build().start()) {
      List<Event> events = new CopyOnWriteArrayList<>();
      try (RegistrySource src = source(r, credentials(r, "not-the-password-xyz"), events::add)) {
        IOException e = assertThrows(IOException.class, () -> src.resolve(ImageRef.parse("registry.k8s.io/pause:3.10.1")));
        assertTrue(e.getMessage().contains("401") || e.getMessage().contains("refused"), e.getMessage());
        assertFalse(e.getMessage().contains("not-the-password-xyz"));
        assertFalse(events.toString().contains("not-the-password-xyz"));
        assertFalse(events.toString().contains(Base64.getEncoder().encodeToString(
            (TestRegistry.USER + ":not-the-password-xyz").getBytes())));
      }
      try (RegistrySource anonymous = source(r, CredentialStore.none(), EventSink.NONE)) {
        IOException e = assertThrows(IOException.class, () -> anonymous.resolve(ImageRef.parse("registry.k8s.io/pause:3.10.1")));
        assertTrue(e.getMessage().contains("401") || e.getMessage().contains("anonymous"), e.getMessage());
      }
    }
  }

  @Test
  void credentialHelpersAnswerForTheirHost() throws Exception {
    try (TestRegistry r = TestRegistry.builder().auth(TestRegistry.Auth.BASIC).build().start()) {
      Path helpers = Files.createDirectories(tmp.resolve("helpers"));
      Path helper = helpers.resolve("docker-credential-testworld");
      Files.writeString(helper, "#!/bin/sh\nread server\n[ \"$server\" = \"" + r.host() + "\" ] || { echo "
          + "'credentials not found in native keychain'; exit 1; }\necho '{\"ServerURL\":\"'$server'\",\"Username\":\""
          + TestRegistry.USER + "\",\"Secret\":\"" + TestRegistry.PASSWORD + "\"}'\n");
      helper.toFile().setExecutable(true);
      Path cfg = tmp.resolve("config.json");
      Files.writeString(cfg, "{\"credHelpers\": {\"" + r.host() + "\": \"testworld\"}}");
      CredentialStore creds = CredentialStore.load(cfg, helpers);
      assertTrue(creds.get(r.host()).isPresent());
      assertTrue(creds.get("quay.io").isEmpty());
      assertFalse(creds.get(r.host()).get().toString().contains(TestRegistry.PASSWORD));
      try (RegistrySource src = source(r, creds, EventSink.NONE)) {
        Descriptor d = src.resolve(ImageRef.parse("registry.k8s.io/pause:3.10.1"));
        assertEquals(Fixtures.published("registry.k8s.io/pause:3.10.1").digest(), d.digest().toString());
      }
    }
  }

  @Test
  void unknownPlatformsAreNamedWithWhatExists() throws Exception {
    try (TestRegistry r = TestRegistry.builder().build().start(); RegistrySource src = source(r)) {
      ContentStore store = ContentStore.open(tmp.resolve("cas"));
      try (Puller puller = new Puller(store, 4, true)) {
        ImageException e = assertThrows(ImageException.class, () -> puller.pull(src,
            ImageRef.parse("quay.io/cilium/cilium:v1.19.3"), List.of(Platform.parse("linux/s390x"))));
        assertTrue(e.getMessage().endsWith("has no image for platform linux/s390x (available: linux/amd64, linux/arm64)"),
            e.getMessage());
        ImageException single = assertThrows(ImageException.class, () -> puller.pull(src,
            ImageRef.parse("registry.k8s.io/metrics-server/metrics-server:v0.9.0"), List.of(Platform.LINUX_ARM64)));
        assertTrue(single.getMessage().contains("single-platform image for linux/amd64"), single.getMessage());
        String pinned = Fixtures.published("registry.k8s.io/pause:3.10.1").digest();
        ImageRecord byDigest = puller.pull(src, ImageRef.parse("registry.k8s.io/pause@" + pinned), BOTH);
        assertEquals(pinned, byDigest.target().digest().toString());
      }
    }
  }

  @Test
  void everyFaultEndsInAVerifiedBlobOrAClearError() throws Exception {
    try (TestRegistry r = TestRegistry.builder().faults().build().start(); RegistrySource src = source(r)) {
      ContentStore store = ContentStore.open(tmp.resolve("cas"));
      FaultProxy faults = r.faults();
      // The busybox base layer (~1 MB) is the first layer of every stand-in image.
      List<String> cmd = new ArrayList<>(List.of("skopeo", "inspect", "--tls-verify=false",
          "docker://" + r.host() + "/kube-proxy:v1.34.2"));
      String layer = JSON.readTree(Tools.run(cmd).ok().out()).get("Layers").get(0).asText();
      faults.inject(new FaultProxy.Rule("GET", "/manifests/", 1, new FaultProxy.TooManyRequests(1)));
      faults.inject(new FaultProxy.Rule("HEAD", "/manifests/", 1, new FaultProxy.Status(503)));
      faults.inject(new FaultProxy.Rule("GET", "/blobs/" + layer, 1, new FaultProxy.Cut(100_000)));
      faults.inject(new FaultProxy.Rule("GET", "/blobs/" + layer, 1, new FaultProxy.Stall(200_000)));
      try (Puller puller = new Puller(store, 1, true)) {
        ImageRecord rec = puller.pull(src, ImageRef.parse("registry.k8s.io/kube-proxy:v1.34.2"), BOTH);
        assertEquals(List.of(), ImageVerifier.verify(rec, store));
        List<FaultProxy.Request> layerGets = faults.requests().stream()
            .filter(q -> q.path().endsWith(layer)).toList();
        assertEquals(java.util.Arrays.asList("Cut", "Stall", null), layerGets.stream().map(FaultProxy.Request::fault).toList());
        assertTrue(layerGets.get(1).has("Range") && layerGets.get(2).has("Range"), "the cut and stalled bodies resumed");
        assertTrue(faults.requests().stream().anyMatch(q -> q.status() == 429));
      }
      faults.clearFaults();
      faults.inject(new FaultProxy.Rule("GET", "/blobs/", 1000, new FaultProxy.Status(500)));
      ContentStore fresh = ContentStore.open(tmp.resolve("cas2"));
      try (Puller puller = new Puller(fresh, 1, true)) {
        IOException e = assertThrows(IOException.class,
            () -> puller.pull(src, ImageRef.parse("registry.k8s.io/etcd:3.6.5-0"), List.of(Platform.LINUX_AMD64)));
        assertTrue(e.getMessage().contains("500"), e.getMessage());
      }
      for (ContentStore.BlobInfo b : fresh.list()) {
        assertTrue(fresh.verify(b.digest()), "only verified blobs in the store: " + b.digest());
      }
    }
  }

  @Test
  void aCorruptedCachedBlobIsDetectedAndFetchedAgain() throws Exception {
    try (TestRegistry r = TestRegistry.builder().faults().build().start(); RegistrySource src = source(r)) {
      ContentStore store = ContentStore.open(tmp.resolve("cas"));
      ImageRef ref = ImageRef.parse("registry.k8s.io/kube-scheduler:v1.34.2");
      try (Puller puller = new Puller(store, 4, true)) {
        ImageRecord first = puller.pull(src, ref, List.of(Platform.LINUX_AMD64));
        Descriptor layer = first.platforms().get(0).layers().get(1);
        Path file = store.path(layer.digest());
        byte[] junk = new byte[(int) layer.size()];
        Files.write(file, junk);
        r.faults().requests().size();
        int before = r.faults().requests().size();
        ImageRecord second = puller.pull(src, ref, List.of(Platform.LINUX_AMD64));
        assertEquals(List.of(), ImageVerifier.verify(second, store));
        assertTrue(r.faults().requests().subList(before, r.faults().requests().size()).stream()
            .anyMatch(q -> q.path().endsWith(layer.digest().toString())), "the corrupt layer was fetched again");
      }
    }
  }

  @Test
  void concurrentPullsOfOneImageIntoOneStore() throws Exception {
    try (TestRegistry r = TestRegistry.builder().build().start()) {
      ContentStore store = ContentStore.open(tmp.resolve("cas"));
      List<Throwable> errors = new CopyOnWriteArrayList<>();
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Thread t = new Thread(() -> {
          try (RegistrySource src = source(r); Puller p = new Puller(store, 4, true)) {
            ImageRecord rec = p.pull(src, ImageRef.parse("quay.io/cilium/cilium:v1.19.3"), BOTH);
            assertEquals(List.of(), ImageVerifier.verify(rec, store));
          } catch (Throwable e) {
            errors.add(e);
          }
        });
        threads.add(t);
        t.start();
      }
      for (Thread t : threads) {
        t.join();
      }
      assertEquals(List.of(), errors);
      try (Stream<Path> partials = Files.list(store.root().resolve("ingest"))) {
        assertTrue(partials.noneMatch(p -> p.toString().endsWith(".partial")), "no leftover partial files");
      }
    }
  }
}
