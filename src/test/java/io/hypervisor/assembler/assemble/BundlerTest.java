package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hypervisor.assembler.fetch.Bundle;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.plan.Lock;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a bundle must hold for a lock: every package, key, image root and a downloaded base. */
class BundlerTest {
  private static final Digest PKG = Digest.sha256("kubelet".getBytes(StandardCharsets.UTF_8));
  private static final Digest KEY = Digest.sha256("key".getBytes(StandardCharsets.UTF_8));
  private static final Digest IMAGE = Digest.sha256("index".getBytes(StandardCharsets.UTF_8));
  private static final Digest BASE = new Digest("sha512", "ab".repeat(64));

  private static final Lock LOCK = new Lock(Lock.FORMAT_VERSION, "p", IMAGE.toString(), null, "apt", "amd64",
      BASE.toString(), Map.of("kubernetes", KEY.toString()),
      List.of(new Lock.Package("kubelet", "1.34.2-1.1", "amd64", "kubernetes", "http://x/kubelet.deb",
          PKG.encoded(), 7)),
      List.of(new Lock.Image("registry.k8s.io/pause:3.10.1", IMAGE.toString())));

  @Test
  void aCompleteBundleCoversTheLock() {
    Bundle.Manifest m = new Bundle.Manifest(Bundle.FORMAT, "n", List.of(Bundle.blob("package", "kubelet", PKG, 7),
        Bundle.blob("key", "kubernetes", KEY, 3), Bundle.blob("image-blob", "pause", IMAGE, 5)));
    assertEquals(List.of(), Bundler.coverage(LOCK, m, BASE::equals), "the base is already in the site's store");
  }

  @Test
  void everyMissingItemIsNamed() {
    Bundle.Manifest m = new Bundle.Manifest(Bundle.FORMAT, "n", List.of());
    assertEquals(List.of("missing package kubelet 1.34.2-1.1", "missing key of repository kubernetes",
        "missing image registry.k8s.io/pause:3.10.1 (" + IMAGE + ")",
        "missing base image " + BASE + " (fetch with --with-base, or put it in the content store)"),
        Bundler.coverage(LOCK, m, d -> false));
  }
}
