package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.testworld.FaultProxy;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.TestRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pull, inspect and cache as a user runs them, against the test registry. */
@Tag("integration")
class PullCliIT {
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  static CliTest.Run run(String... args) {
    return CliTest.run(args);
  }

  static long partialBytes(Path cache) throws IOException {
    Path ingest = cache.resolve("ingest");
    if (!Files.isDirectory(ingest)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(ingest)) {
      return s.filter(p -> p.toString().endsWith(".partial")).mapToLong(p -> p.toFile().length()).sum();
    }
  }

  @Test
  void killedMidPullTheNextRunResumesAndTheCacheHoldsOnlyVerifiedBlobs() throws Exception {
    try (TestRegistry r = TestRegistry.builder().faults().build().start()) {
      Path cache = tmp.resolve("cache");
      String image = "ghcr.io/hypervisor-io/bench-large:1gib";
      // Hold every layer download after 100 MB, so the kill lands mid-body, deterministically.
      r.faults().inject(new FaultProxy.Rule("GET", "/blobs/", 4, new FaultProxy.Stall(100L << 20)));
      Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--cache", cache.toString(),
          "pull", "--mirror", "ghcr.io=" + r.url(), image)
          .redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile()).start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (partialBytes(cache) < (200L << 20) && System.nanoTime() < deadline && child.isAlive()) {
        Thread.sleep(50);
      }
      assertTrue(child.isAlive(), "the pull was still running: " + Files.readString(tmp.resolve("child.log")));
      child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);   // SIGKILL: no cleanup runs
      long partial = partialBytes(cache);
      assertTrue(partial >= (200L << 20), "partial downloads were left: " + partial);

      CliTest.Run verify = run("--cache", cache.toString(), "cache", "verify");
      assertEquals(0, verify.code(), "whatever carries a blob name is whole: " + verify.out());

      r.faults().clearFaults();
      int before = r.faults().requests().size();
      CliTest.Run again = run("--cache", cache.toString(), "pull", "--mirror", "ghcr.io=" + r.url(), image);
      assertEquals(0, again.code(), again.err());
      assertTrue(again.out().contains(Fixtures.published(image).digest()), again.out());
      List<FaultProxy.Request> resumed = r.faults().requests().subList(before, r.faults().requests().size());
      List<FaultProxy.Request> ranged = resumed.stream().filter(q -> q.path().contains("/blobs/")).filter(q -> q.headers()
          .stream().anyMatch(h -> h[0].equals("Range") && Long.parseLong(h[1].replaceAll("\\D", "")) > 0)).toList();
      assertEquals(4, ranged.size(), "each big layer resumed from its partial file");
      assertTrue(ranged.stream().allMatch(q -> q.status() == 206));
      assertEquals(0, run("--cache", cache.toString(), "cache", "verify").code());
      assertEquals(0, partialBytes(cache), "no partial left after success");
    }
  }

  @Test
  void pullWritesAnArchiveAndInspectReadsRegistryAndArchive() throws Exception {
    try (TestRegistry r = TestRegistry.builder().build().start()) {
      Path cache = tmp.resolve("cache");
      Path tar = tmp.resolve("out/images.tar");
      CliTest.Run pull = run("--cache", cache.toString(), "--json", "pull", "--platform", "linux/amd64,linux/arm64",
          "--mirror", "registry.k8s.io=" + r.url(), "--oci-archive", tar.toString(), "registry.k8s.io/pause:3.10.1");
      assertEquals(0, pull.code(), pull.err());
      JsonNode j = JSON.readTree(pull.out());
      assertEquals(Fixtures.published("registry.k8s.io/pause:3.10.1").digest(), j.get(0).get("digest").asText());
      assertEquals("[\"linux/amd64\",\"linux/arm64\"]", j.get(0).get("platforms").toString());
      assertTrue(Files.size(tar) > 0);

      CliTest.Run inspect = run("--cache", cache.toString(), "inspect", "--mirror", "registry.k8s.io=" + r.url(),
          "registry.k8s.io/pause:3.10.1");
      assertEquals(0, inspect.code(), inspect.err());
      assertTrue(inspect.out().contains("    linux/arm64 sha256:"), inspect.out());
      assertTrue(inspect.out().contains("  linux/amd64  manifest sha256:"), inspect.out());
      CliTest.Run archive = run("--cache", tmp.resolve("cache2").toString(), "--json", "inspect", tar.toString());
      assertEquals(0, archive.code(), archive.err());
      assertEquals(j.get(0).get("digest").asText(), JSON.readTree(archive.out()).get("digest").asText());
    }
  }

  @Test
  void userErrorsAndFailuresExitWithTheirCodes() throws Exception {
    try (TestRegistry r = TestRegistry.builder().build().start()) {
      CliTest.Run platform = run("--cache", tmp.resolve("c").toString(), "pull", "--platform", "linux/s390x",
          "--mirror", "quay.io=" + r.url(), "quay.io/cilium/cilium:v1.19.3");
      assertEquals(1, platform.code());
      assertTrue(platform.err().contains("available: linux/amd64, linux/arm64"), platform.err());
      CliTest.Run missing = run("--cache", tmp.resolve("c").toString(), "pull", "--mirror", "quay.io=" + r.url(),
          "quay.io/cilium/cilium:v9.9.9");
      assertEquals(1, missing.code());
      assertTrue(missing.err().contains("MANIFEST_UNKNOWN"), missing.err());
      assertEquals(2, run("pull", "NOT A REF").code());
      assertEquals(2, run("pull", "--mirror", "nonsense", "x").code());
    }
  }

  @Test
  void cacheGcKeepsWhatLockFilesReference() throws Exception {
    try (TestRegistry r = TestRegistry.builder().build().start()) {
      Path cache = tmp.resolve("cache");
      assertEquals(0, run("--cache", cache.toString(), "pull", "--mirror", "registry.k8s.io=" + r.url(),
          "registry.k8s.io/pause:3.10.1", "registry.k8s.io/kube-proxy:v1.34.2").code());
      Path locks = Files.createDirectories(tmp.resolve("locks"));
      Files.writeString(locks.resolve("node.lock.json"), "{\"images\": [{\"digest\": \""
          + Fixtures.published("registry.k8s.io/pause:3.10.1").digest() + "\"}]}");
      CliTest.Run gc = run("--cache", cache.toString(), "cache", "gc", "--locks", locks.toString());
      assertEquals(0, gc.code(), gc.err());
      CliTest.Run again = run("--cache", cache.toString(), "pull", "--mirror", "registry.k8s.io=http://127.0.0.1:1",
          "registry.k8s.io/pause:3.10.1");
      assertEquals(1, again.code(), "pause's tag still needs the registry to resolve");
      CliTest.Run ls = run("--cache", cache.toString(), "cache", "ls");
      assertTrue(ls.out().contains(Fixtures.published("registry.k8s.io/pause:3.10.1").digest().substring(7)), ls.out());
      assertTrue(!ls.out().contains(Fixtures.published("registry.k8s.io/kube-proxy:v1.34.2").digest().substring(7)), ls.out());
      assertEquals(2, run("--cache", cache.toString(), "cache", "gc").code(), "gc without a rule is refused");
    }
  }
}
