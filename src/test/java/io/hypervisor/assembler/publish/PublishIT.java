package io.hypervisor.assembler.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.cli.Main;
import io.hypervisor.assembler.testworld.FaultProxy;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.TestCa;
import io.hypervisor.assembler.testworld.TestContainerd;
import io.hypervisor.assembler.testworld.TestRegistry;
import io.hypervisor.assembler.testworld.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code assemble publish} against the test world's real registry (CNCF distribution 2.8 with token
 * auth granting push only with credentials from docker's config.json; and with TLS by the test
 * CA), as its own process: the containerDisk (a 40 MiB qcow2, so the layer goes up in PATCH chunks) is what
 * skopeo inspects, what a real containerd pulls (the {@code disk/*.qcow2} in its layer hashes to
 * the image, owned by 107:107, mode 0440), and oras (Debian trixie's) discovers the SBOMs,
 * provenance and checksums attached to it through the tag-schema fallback (distribution has no
 * referrers API). The catalogue manifest names the reference by digest and the checksums cover it
 * again; a second publish uploads no blob; a tagless reference and refused credentials exit 2
 * with nothing tagged.
 */
@Tag("integration")
class PublishIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long EPOCH = 1_700_000_000L;

  @TempDir
  Path tmp;

  /** A built image as the build leaves it: qcow2, catalogue manifest, SBOMs, provenance, checksums. */
  private Path image() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("out"));
    Path raw = tmp.resolve("disk.raw");
    byte[] noise = new byte[40 << 20];
    new Random(42).nextBytes(noise);
    Files.write(raw, noise);
    Path image = dir.resolve("node.qcow2");
    Tools.run(List.of("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), image.toString()), tmp, 120)
        .ok();
    Files.writeString(dir.resolve("node.cdx.json"), "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\"}\n");
    Files.writeString(dir.resolve("node.spdx.json"), "{\"spdxVersion\":\"SPDX-2.3\"}\n");
    Files.writeString(dir.resolve("node.provenance.json"), "{\"payloadType\":\"application/vnd.in-toto+json\","
        + "\"payload\":\"e30=\",\"signatures\":[]}\n");
    Files.writeString(dir.resolve("node.json"), """
        {
          "formatVersion" : 1,
          "registration" : {
            "name" : "Node",
            "url" : "${IMAGE_URL}"
          },
          "sourceDateEpoch" : %d,
          "files" : {
            "checksums" : "node.SHA256SUMS",
            "provenance" : "node.provenance.json",
            "sbomCycloneDx" : "node.cdx.json",
            "sbomSpdx" : "node.spdx.json"
          }
        }
        """.formatted(EPOCH));
    Files.writeString(dir.resolve("node.SHA256SUMS"), "stale\n");
    return image;
  }

  /** The CLI as its own process, with docker's config.json in {@code dockerConfig}. */
  private Tools.Result publish(Path dockerConfig, String... args) {
    List<String> cmd = new ArrayList<>(List.of("env", "DOCKER_CONFIG=" + dockerConfig,
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "--work", tmp.resolve("work").toString()));
    cmd.addAll(List.of(args));
    return Tools.run(cmd, tmp, 600);
  }

  private Path dockerConfig(String name, String host, String user, String password) throws Exception {
    Path d = Files.createDirectories(tmp.resolve(name));
    String auth = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    Files.writeString(d.resolve("config.json"), "{\"auths\":{\"" + host + "\":{\"auth\":\"" + auth + "\"}}}");
    return d;
  }

  private static String sha256(Path f) {
    return Tools.run(List.of("sha256sum", f.toString()), f.getParent(), 120).ok().out().split(" ")[0];
  }

  @Test
  void publishesAContainerDiskThatSkopeoContainerdAndOrasRead() throws Exception {
    Path image = image();
    String imageSha = sha256(image);
    // Token auth (its realm is plain HTTP in the test world, so the registry is too; TLS below).
    try (TestRegistry registry = TestRegistry.builder().auth(TestRegistry.Auth.TOKEN).build().start()) {
      String host = registry.host();
      Path hosts = Files.createDirectories(tmp.resolve("certs.d").resolve(host));
      Files.writeString(hosts.resolve("hosts.toml"), "server = \"http://" + host + "\"\n\n[host.\"http://" + host
          + "\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n");
      Path creds = dockerConfig("docker", host, TestRegistry.USER, TestRegistry.PASSWORD);
      String ref = host + "/kubevirt/node:1.34.2";

      // Bad input first: no tag; credentials the registry refuses. Nothing may be tagged by either.
      Tools.Result noTag = publish(creds, "publish", image.toString(), host + "/kubevirt/node", "--hosts-dir",
          tmp.resolve("certs.d").toString());
      assertEquals(2, noTag.code(), noTag.out() + noTag.err());
      assertTrue(noTag.err().contains("it needs a tag"), noTag.err());
      Tools.Result refused = publish(dockerConfig("wrong", host, TestRegistry.USER, "not-the-password"), "publish",
          image.toString(), ref, "--hosts-dir", tmp.resolve("certs.d").toString());
      assertEquals(2, refused.code(), refused.out() + refused.err());
      assertTrue(refused.err().contains("401") || refused.err().contains("unauthorized"), refused.err());
      assertFalse(refused.err().contains("Exception"), refused.err());
      List<String> flags = new ArrayList<>(registry.skopeoFlags(""));
      flags.add("--creds=" + TestRegistry.USER + ":" + TestRegistry.PASSWORD);
      List<String> skopeo = new ArrayList<>(List.of("skopeo", "inspect", "--raw"));
      skopeo.addAll(flags);
      skopeo.add("docker://" + ref);
      assertNotEquals(0, Tools.run(skopeo, tmp, 120).code(), "nothing tagged after a refused publish");

      Tools.Result first = publish(creds, "publish", image.toString(), ref, "--hosts-dir",
          tmp.resolve("certs.d").toString());
      assertEquals(0, first.code(), first.out() + first.err());
      assertTrue(first.out().contains("published " + ref + " as " + host + "/kubevirt/node@sha256:"), first.out());
      assertTrue(first.out().contains("4 artifacts attached"), first.out());

      // skopeo: an OCI image manifest with one uncompressed layer, the platform in its config.
      JsonNode manifest = JSON.readTree(Tools.run(skopeo, tmp, 120).ok().out());
      assertEquals("application/vnd.oci.image.manifest.v1+json", manifest.get("mediaType").asText());
      assertEquals(1, manifest.get("layers").size());
      JsonNode layer = manifest.get("layers").get(0);
      assertEquals("application/vnd.oci.image.layer.v1.tar", layer.get("mediaType").asText());
      List<String> inspectConfig = new ArrayList<>(List.of("skopeo", "inspect", "--config"));
      inspectConfig.addAll(flags);
      inspectConfig.add("docker://" + ref);
      JsonNode config = JSON.readTree(Tools.run(inspectConfig, tmp, 120).ok().out());
      assertEquals("amd64", config.get("architecture").asText());
      assertEquals("linux", config.get("os").asText());

      // The catalogue manifest records the reference by digest; the checksums cover it again.
      String digest = Tools.run(List.of("sh", "-c", "\"$@\" | sha256sum", "sh", "skopeo", "inspect", "--raw",
          flags.get(0), flags.get(1), "docker://" + ref), tmp, 120).ok().out().split(" ")[0];
      JsonNode m = JSON.readTree(image.resolveSibling("node.json").toFile());
      assertEquals(host + "/kubevirt/node@sha256:" + digest, m.at("/registration/url").asText());
      assertEquals(m.at("/registration/url").asText(), m.get("published").asText());
      Tools.run(List.of("sha256sum", "-c", "node.SHA256SUMS"), image.getParent(), 120).ok();

      // A real containerd pulls it; the disk in its layer is the image, as KubeVirt wants it.
      try (TestContainerd ctrd = TestContainerd.start("2.1", tmp.resolve("ctrd-root"), false, null)) {
        // anonymously: the token server grants pull to anyone (ctr's password grant is a form POST it lacks)
        ctrd.ctr("images", "pull", "--hosts-dir", tmp.resolve("certs.d").toString(), ref).ok();
        Path blob = tmp.resolve("layer.tar");
        Tools.run(List.of("sh", "-c", "\"$@\" > '" + blob + "'", "sh", TestContainerd.bin("2.1").resolve("ctr")
            .toString(), "--address", ctrd.socket().toString(), "content", "get",
            layer.get("digest").asText()), tmp, 120).ok();
        String listing = Tools.run(List.of("tar", "--numeric-owner", "-tvf", blob.toString()), tmp, 60).ok().out();
        assertTrue(listing.contains("-r--r----- 107/107") && listing.contains("disk/node.qcow2"), listing);
        Path disk = Files.createDirectories(tmp.resolve("x"));
        Tools.run(List.of("tar", "-xf", blob.toString(), "-C", disk.toString()), tmp, 60).ok();
        assertEquals(imageSha, sha256(disk.resolve("disk/node.qcow2")));
      }

      // oras (Debian trixie's) finds the documents attached to the disk through the tag-schema index.
      String discover = Tools.run(List.of("env", "DOCKER_CONFIG=" + creds,
          Fixtures.part("attest-oracles").resolve("bin/oras").toString(), "discover", "--format", "json",
          "--plain-http", "--distribution-spec", "v1.1-referrers-tag", ref), tmp, 120)
          .ok().out();
      for (String type : List.of("application/vnd.cyclonedx+json", "application/spdx+json",
          "application/vnd.in-toto+json", "application/vnd.assemble.sha256sums")) {
        assertTrue(discover.contains("\"artifactType\": \"" + type + "\"") || discover.contains("\"artifactType\":\""
            + type + "\""), type + " in " + discover);
      }

      // Again: every blob is there already; the same digest.
      Tools.Result second = publish(creds, "publish", image.toString(), ref, "--hosts-dir",
          tmp.resolve("certs.d").toString());
      assertEquals(0, second.code(), second.out() + second.err());
      assertTrue(second.out().contains("(0 blobs uploaded"), second.out());
      assertTrue(second.out().contains("@sha256:" + digest), second.out());

      // To another repository of the same registry: the disk layer is mounted from the first, not sent.
      Tools.Result other = publish(creds, "publish", image.toString(), host + "/kubevirt/other:1.34.2", "--hosts-dir",
          tmp.resolve("certs.d").toString());
      assertEquals(0, other.code(), other.out() + other.err());
      assertTrue(other.out().contains("1 mounted"), other.out());
      assertTrue(other.out().contains("as " + host + "/kubevirt/other@sha256:" + digest), other.out());
    }

    // TLS with the test CA (hosts.toml "ca"), no auth: the same image, the same digest.
    try (TestRegistry tls = TestRegistry.builder().tls().build().start()) {
      String host = tls.host();
      Path hosts = Files.createDirectories(tmp.resolve("certs-tls.d").resolve(host));
      Files.writeString(hosts.resolve("hosts.toml"), "server = \"https://" + host + "\"\n\n[host.\"https://" + host
          + "\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  ca = \"" + TestCa.get().caCert + "\"\n");
      String ref = host + "/kubevirt/node:1.34.2";
      Tools.Result r = publish(tmp.resolve("docker"), "publish", image.toString(), ref, "--hosts-dir",
          tmp.resolve("certs-tls.d").toString());
      assertEquals(0, r.code(), r.out() + r.err());
      List<String> inspect = new ArrayList<>(List.of("skopeo", "inspect", "--raw"));
      inspect.addAll(tls.skopeoFlags(""));
      inspect.add("docker://" + ref);
      assertEquals("application/vnd.oci.image.manifest.v1+json",
          JSON.readTree(Tools.run(inspect, tmp, 120).ok().out()).get("mediaType").asText());
    }
  }


  @Test
  void aRefusedTagLeavesNothingTaggedAndARerunResumes() throws Exception {
    Path image = image();
    try (TestRegistry registry = TestRegistry.builder().faults().build().start()) {
      String host = registry.host();
      Path hosts = Files.createDirectories(tmp.resolve("certs.d").resolve(host));
      Files.writeString(hosts.resolve("hosts.toml"), "server = \"http://" + host + "\"\n");
      String ref = host + "/kubevirt/node:1.34.2";
      FaultProxy faults = registry.faults();
      faults.inject(new FaultProxy.Rule("PUT", "/manifests/1\\.34\\.2$", 1, new FaultProxy.Status(413)));
      Path creds = Files.createDirectories(tmp.resolve("no-creds"));
      Tools.Result tooLarge = publish(creds, "publish", image.toString(), ref, "--hosts-dir",
          tmp.resolve("certs.d").toString());
      assertEquals(2, tooLarge.code(), tooLarge.out() + tooLarge.err());
      assertTrue(tooLarge.err().contains("413") && tooLarge.err().contains("nothing was tagged"), tooLarge.err());
      assertTrue(faults.requests().stream().anyMatch(q -> q.method().equals("PUT") && q.status() == 413));
      List<String> inspect = new ArrayList<>(List.of("skopeo", "inspect", "--raw"));
      inspect.addAll(registry.skopeoFlags(""));
      inspect.add("docker://" + ref);
      assertNotEquals(0, Tools.run(inspect, tmp, 120).code(), "no tag after the refusal");

      Tools.Result again = publish(creds, "publish", image.toString(), ref, "--hosts-dir",
          tmp.resolve("certs.d").toString());
      assertEquals(0, again.code(), again.out() + again.err());
      assertTrue(again.out().contains("(0 blobs uploaded"), "the rerun resumed: " + again.out());
      Tools.run(inspect, tmp, 120).ok();
    }
  }
}
