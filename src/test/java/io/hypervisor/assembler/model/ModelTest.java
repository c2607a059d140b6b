package io.hypervisor.assembler.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ModelTest {
  @Test
  void digestOfKnownBytes() {
    assertEquals("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Digest.sha256(new byte[0]).toString());
    assertEquals("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        Digest.sha256("hello".getBytes(StandardCharsets.US_ASCII)).toString());
  }

  @Test
  void digestGrammarIsEnforced() {
    assertThrows(IllegalArgumentException.class, () -> Digest.parse("sha256:ABC"));
    assertThrows(IllegalArgumentException.class, () -> Digest.parse("md5:" + "a".repeat(32)));
    assertThrows(IllegalArgumentException.class, () -> Digest.parse("nocolon"));
    Digest d = Digest.parse("sha512:" + "0".repeat(128));
    assertEquals("sha512", d.algorithm());
  }

  @ParameterizedTest
  @CsvSource({
      "busybox, docker.io/library/busybox:latest",
      "busybox:1.36, docker.io/library/busybox:1.36",
      "library/busybox:1.36, docker.io/library/busybox:1.36",
      "index.docker.io/calico/node:v3.31.2, docker.io/calico/node:v3.31.2",
      "registry.k8s.io/pause:3.10.1, registry.k8s.io/pause:3.10.1",
      "registry.k8s.io/coredns/coredns:v1.12.1, registry.k8s.io/coredns/coredns:v1.12.1",
      "localhost:5000/test/multi:v1, localhost:5000/test/multi:v1",
      "127.0.0.1:5000/a/b, 127.0.0.1:5000/a/b:latest",
      "localhost/foo, localhost/foo:latest"})
  void imageReferencesNormaliseLikeCri(String in, String out) {
    assertEquals(out, ImageRef.parse(in).toString());
  }

  @Test
  void imageReferenceWithTagAndDigest() {
    String d = "sha256:" + "a".repeat(64);
    ImageRef r = ImageRef.parse("quay.io/cilium/cilium:v1.19.3@" + d);
    assertEquals("quay.io", r.registry());
    assertEquals("cilium/cilium", r.repository());
    assertEquals("v1.19.3", r.tag());
    assertEquals(d, r.digest().toString());
    assertEquals("quay.io/cilium/cilium@" + d, r.digested());
    assertEquals(d, r.manifestReference());
    ImageRef byDigest = ImageRef.parse("quay.io/cilium/cilium@" + d);
    assertNull(byDigest.tag());
    assertThrows(IllegalArgumentException.class, () -> ImageRef.parse("Quay.io/Upper/Case:x"));
    assertThrows(IllegalArgumentException.class, () -> ImageRef.parse("registry.k8s.io/pause:bad tag"));
  }

  @ParameterizedTest
  @CsvSource({"linux/x86_64, linux/amd64", "linux/amd64/v1, linux/amd64", "linux/aarch64, linux/arm64",
      "linux/arm64/v8, linux/arm64", "linux/arm, linux/arm/v7", "linux/armhf, linux/arm/v7",
      "linux/amd64/v3, linux/amd64/v3"})
  void platformsNormaliseLikeContainerd(String in, String out) {
    assertEquals(out, Platform.parse(in).toString());
    assertEquals(Platform.parse(out), Platform.parse(in));
  }

  @Test
  void distros() {
    assertEquals(OsFamily.APT, Distro.parse("debian-12").family());
    assertEquals("bookworm", Distro.parse("debian-12").codename());
    assertEquals(OsFamily.DNF, Distro.parse("centos-stream-9").family());
    assertEquals("almalinux", new Distro("alma", "9").id());
    assertFalse(Distro.parse("debian-11").supported());
    assertFalse(Distro.parse("fedora-38").supported());
    assertTrue(Distro.parse("fedora-41").supported());
    assertFalse(Distro.parse("plan9-4").supported());
    assertTrue(Distro.parse("rocky-9").sameRelease(new Distro("rocky", "9.4")));
    assertFalse(Distro.parse("ubuntu-24.04").sameRelease(new Distro("ubuntu", "22.04")));
  }

  @Test
  void packageRefPatterns() {
    PackageRef k = new PackageRef("kubelet", "1.34.2-*");
    assertTrue(k.accepts("1.34.2-1.1"));
    assertFalse(k.accepts("1.34.20-1.1"));
    assertEquals(new PackageRef("jq", null), PackageRef.parse("jq"));
    assertEquals("1.7.1-3", PackageRef.parse("jq=1.7.1-3").version());
  }

  @Test
  void problemRendersPositionPathMessageAndHint() {
    Problem p = Problem.error("kubernetes.version", new Position("r.yaml", 7, 12), "bad", "fix it");
    assertEquals("r.yaml:7:12: kubernetes.version: bad (hint: fix it)", p.render());
  }
}
