package io.hypervisor.assembler.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.Puller;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistrySource;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry client against {@link HostileRegistry}: every transfer has a deadline, tokens are
 * never fetched in a loop, failures that cannot change are not retried, and a redirect out of
 * HTTP is refused. Timing limits are shortened for the test (a rate window of 2 s instead of 60).
 */
class HostileRegistryTest {
  static final HttpSettings QUICK = HttpSettings.defaults().withBackoff(Duration.ofMillis(20), Duration.ofMillis(100))
      .withStallTimeout(Duration.ofSeconds(3)).withTransferLimits(512, Duration.ofSeconds(2), 3, Duration.ofSeconds(20));

  @TempDir
  Path dir;

  ImageRecord pull(HostileRegistry r, HttpSettings http) throws Exception {
    HostsConfig hosts = HostsConfig.of(Map.of("example.org", List.of(new HostsConfig.MirrorSpec(r.url(),
        List.of("pull", "resolve"), null, false))));
    try (RegistrySource src = new RegistrySource(hosts, CredentialStore.none(), http, EventSink.NONE, Map.of());
        Puller p = new Puller(ContentStore.open(dir.resolve("cas")), 2, true)) {
      return p.pull(src, ImageRef.parse("example.org/hello:1"), List.of(Platform.LINUX_AMD64));
    }
  }

  @Test
  void aTokenIssuedInThePastIsUsedNotFetchedForEver() throws Exception {
    try (HostileRegistry r = new HostileRegistry(HostileRegistry.Way.TOKEN_IN_THE_PAST)) {
      ImageRecord img = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> pull(r, QUICK));
      assertTrue(img.ref().toString().startsWith("example.org/hello:1"), img.ref().toString());
      assertTrue(r.count("GET /token") <= 3, "token requests: " + r.requests());
    }
  }

  @Test
  void aSlowTokenThatIsStaleOnArrivalIsUsedOnceNotLoopedOn() throws Exception {
    try (HostileRegistry r = new HostileRegistry(HostileRegistry.Way.SLOW_STALE_TOKEN)) {
      assertTimeoutPreemptively(Duration.ofSeconds(60), () -> pull(r, QUICK));
      // one per scope and request at most (each request may find the last token stale): bounded, not a loop
      assertTrue(r.count("GET /token") <= 10, "token requests: " + r.requests());
    }
  }

  @Test
  void aGarbageTokenIsOneFailureNotFiveRetries() throws Exception {
    try (HostileRegistry r = new HostileRegistry(HostileRegistry.Way.GARBAGE_TOKEN)) {
      IOException e = assertThrows(IOException.class, () -> assertTimeoutPreemptively(Duration.ofSeconds(30),
          () -> pull(r, QUICK)));
      assertTrue(e.getMessage() != null, String.valueOf(e));
      assertEquals(1, r.count("GET /token"), "a token that does not parse is not asked for again: " + r.requests());
    }
  }

  @Test
  void aTrickledBlobEndsAtTheMinimumRateAndTheResumeBudget() throws Exception {
    try (HostileRegistry r = new HostileRegistry(HostileRegistry.Way.TRICKLE_BLOB)) {
      long t0 = System.nanoTime();
      IOException e = assertThrows(IOException.class, () -> assertTimeoutPreemptively(Duration.ofSeconds(60),
          () -> pull(r, QUICK)));
      assertTrue(e.getMessage().contains("too slow") || e.getMessage().contains("did not finish"), e.getMessage());
      assertTrue(System.nanoTime() - t0 < 45_000_000_000L, "bounded by the deadline and the resume budget");
      assertTrue(r.count("GET /v2/hello/blobs/") <= 1 + 3 + 5, "resumes bounded: " + r.requests());
    }
  }

  @Test
  void aRedirectToAFileUrlIsRefusedInOneLine() throws IOException {
    try (HostileRegistry r = new HostileRegistry(HostileRegistry.Way.REDIRECT_TO_FILE)) {
      Cli.refused(2, "refusing a redirect to a file: URL", Duration.ofSeconds(60), "--cache",
          dir.resolve("c").toString(), "pull", "--mirror", "example.org=" + r.url(), "example.org/hello:1");
      assertEquals(1, r.count("HEAD /v2/hello/manifests/") + r.count("GET /v2/hello/manifests/"),
          "not retried: " + r.requests());
    }
  }

  @Test
  void anOversizedManifestIsNotAskedForAgain() throws IOException {
    try (HostileRegistry r = new HostileRegistry(HostileRegistry.Way.HUGE_MANIFEST)) {
      Cli.Run run = Cli.run(Duration.ofSeconds(60), "--cache", dir.resolve("c").toString(), "pull", "--mirror",
          "example.org=" + r.url(), "example.org/hello:1");
      assertEquals(1, run.code(), run.err());
      Cli.clear(run);
      assertTrue(run.err().contains("is larger than"), run.err());
      assertEquals(1, r.count("GET /v2/hello/manifests/"), "a deterministic failure is not retried: " + r.requests());
    }
  }

  @Test
  void aWellBehavedRegistryStillWorksWithTheseLimits() throws Exception {
    try (HostileRegistry r = new HostileRegistry()) {
      pull(r, QUICK);
      assertTrue(ContentStore.open(dir.resolve("cas")).contains(io.hypervisor.assembler.model.Digest.sha256(r.layer)));
    }
  }
}
