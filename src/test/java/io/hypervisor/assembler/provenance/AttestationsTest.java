package io.hypervisor.assembler.provenance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.pkgrepo.TestKeys;
import io.hypervisor.assembler.plan.BuildRecord;
import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.recipe.RecipeReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The documents beside an image, from a build record: SBOMs that the official CycloneDX 1.6 and
 * SPDX 2.3 schemas accept and that list everything with its purl, a DSSE-signed SLSA statement whose
 * subjects are the image and the SBOMs, signed checksums; the same record gives the same bytes
 * whatever the clock, time zone or input order; verify-signatures finds every change.
 */
class AttestationsTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Instant EPOCH = Instant.parse("2026-11-01T12:34:56Z");

  @TempDir
  Path dir;

  static Plan plan() {
    RecipeReader.Result r = new RecipeReader(Map.of(), List.of()).readText("""
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        name: hks-worker-1.34.2
        base: {path: base.qcow2, os: debian-12}
        kubernetes: {version: 1.34.2, role: worker}
        """, "worker.yaml");
    return new Planner(KubernetesBom.load()).plan(r.recipe(), r.warnings());
  }

  static BuildRecord record(List<Lock.Package> packages, List<BuildRecord.BasePackage> base, String imageSha) {
    Lock lock = new Lock(Lock.FORMAT_VERSION, "hks-worker-1.34.2", "sha256:" + "1".repeat(64), "sha256:" + "2".repeat(64),
        "apt", "amd64", null, Map.of(), packages, List.of(new Lock.Image("registry.k8s.io/pause:3.10.1",
            "sha256:" + "7".repeat(64))));
    return new BuildRecord(plan(), lock, "3".repeat(64), "4".repeat(64), List.of(new BuildRecord.RecipeFile(
        "worker.yaml", "5".repeat(64))), new BuildRecord.Artifact("hks-worker-1.34.2.qcow2", imageSha, 1234, 8L << 30,
        "qcow2"), new BuildRecord.Base("https://cloud.example/debian-12.qcow2", "sha512:" + "6".repeat(128)), EPOCH,
        base, List.of(new BuildRecord.SeededImage("registry.k8s.io/pause:3.10.1", "sha256:" + "7".repeat(64),
            "application/vnd.oci.image.index.v1+json", "linux/amd64", "sha256:" + "8".repeat(64),
            "sha256:" + "9".repeat(64))), "0.1.0");
  }

  static final List<Lock.Package> PACKAGES = List.of(
      new Lock.Package("kubelet", "1.34.2-1.1", "amd64", "kubernetes", "https://pkgs.example/kubelet.deb",
          "a".repeat(64), 10),
      new Lock.Package("containerd.io", "2.1.9-1~debian.12~bookworm", "amd64", "docker",
          "https://download.example/containerd.io.deb", "b".repeat(64), 20),
      new Lock.Package("libpcap0.8", "1:1.10.3-1", "amd64", "distro", "https://deb.example/libpcap.deb", "c".repeat(64),
          30));
  static final List<BuildRecord.BasePackage> BASE = List.of(new BuildRecord.BasePackage("bash", "5.2.15-2+b7", "amd64"),
      new BuildRecord.BasePackage("kubelet", "1.33.0-1.1", "amd64"));

  /** An ECDSA P-256 key pair as PEM, the way openssl genpkey writes it. */
  static String[] p256() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    KeyPair kp = g.generateKeyPair();
    Base64.Encoder b = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
    return new String[] {"-----BEGIN PRIVATE KEY-----\n" + b.encodeToString(kp.getPrivate().getEncoded())
        + "\n-----END PRIVATE KEY-----\n", "-----BEGIN PUBLIC KEY-----\n" + b.encodeToString(kp.getPublic().getEncoded())
        + "\n-----END PUBLIC KEY-----\n"};
  }

  static Schema schema(String main, Map<String, String> resources) throws IOException {
    Map<String, String> schemas = new java.util.HashMap<>();
    for (var e : resources.entrySet()) {
      try (InputStream in = AttestationsTest.class.getResourceAsStream(e.getValue())) {
        schemas.put(e.getKey(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    SchemaRegistry reg = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_7, b -> b.schemas(schemas));
    return reg.getSchema(com.networknt.schema.SchemaLocation.of(main));
  }

  /** CycloneDX's official 1.6 schema (with the spdx and jsf schemas it refers to), offline. */
  static Schema cycloneDx() throws IOException {
    return schema("http://cyclonedx.org/schema/bom-1.6.schema.json", Map.of(
        "http://cyclonedx.org/schema/bom-1.6.schema.json", "/bom-1.6.schema.json",
        "http://cyclonedx.org/schema/spdx.schema.json", "/spdx.schema.json",
        "http://cyclonedx.org/schema/jsf-0.82.schema.json", "/jsf-0.82.schema.json"));
  }

  /** The official SPDX 2.3 schema. */
  static Schema spdx() throws IOException {
    try (InputStream in = AttestationsTest.class.getResourceAsStream("/resources/spdx-schema-v2.3.json")) {
      return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_7).getSchema(in);
    }
  }

  @Test
  void theSbomsFollowTheOfficialSchemasAndListEverything() throws Exception {
    Map<String, String> files = new Attestations(Attestations.Keys.NONE).describe(record(PACKAGES, BASE,
        "d".repeat(64)), dir);
    assertEquals(List.of("sbomCycloneDx", "sbomSpdx", "provenance", "checksums"), new ArrayList<>(files.keySet()));
    JsonNode cdx = JSON.readTree(dir.resolve(files.get("sbomCycloneDx")).toFile());
    assertEquals(List.of(), cycloneDx().validate(cdx), "CycloneDX 1.6 schema");
    JsonNode spdx = JSON.readTree(dir.resolve(files.get("sbomSpdx")).toFile());
    assertEquals(List.of(), spdx().validate(spdx), "SPDX 2.3 schema");

    assertEquals("d".repeat(64), cdx.at("/metadata/component/hashes/0/content").asText());
    assertEquals("2026-11-01T12:34:56Z", cdx.at("/metadata/timestamp").asText());
    assertTrue(cdx.get("serialNumber").asText().matches("urn:uuid:[0-9a-f-]{8}-[0-9a-f-]{4}-5[0-9a-f-]{3}-.*"));
    List<String> purls = cdx.get("components").findValuesAsText("purl");
    assertTrue(purls.contains("pkg:deb/debian/kubelet@1.34.2-1.1?arch=amd64&distro=debian-12"), purls.toString());
    assertTrue(purls.contains("pkg:deb/debian/containerd.io@2.1.9-1~debian.12~bookworm?arch=amd64&distro=debian-12"));
    assertTrue(purls.contains("pkg:deb/debian/libpcap0.8@1:1.10.3-1?arch=amd64&distro=debian-12"), purls.toString());
    assertTrue(purls.contains("pkg:oci/pause@sha256:" + "7".repeat(64)
        + "?repository_url=registry.k8s.io%2Fpause&tag=3.10.1"), purls.toString());
    assertTrue(purls.contains("pkg:deb/debian/bash@5.2.15-2+b7?arch=amd64&distro=debian-12"), "the base's own");
    assertFalse(purls.stream().anyMatch(p -> p.contains("kubelet@1.33")), "a base package the build replaced is gone");
    JsonNode bash = find(cdx.get("components"), "name", "bash");
    assertEquals("base image", bash.at("/properties/0/value").asText());
    JsonNode pause = find(cdx.get("components"), "name", "pause");
    assertEquals("container", pause.get("type").asText());
    assertTrue(pause.get("properties").toString().contains("sha256:" + "8".repeat(64)), "platform manifest");

    assertEquals("SPDXRef-image", spdx.at("/documentDescribes/0").asText());
    assertEquals("d".repeat(64), spdx.at("/packages/0/checksums/0/checksumValue").asText());
    assertEquals(2 + 4 + 1, spdx.get("packages").size(), "image, os, 4 packages (3 built, bash), 1 image");
    assertTrue(spdx.get("relationships").toString().contains("\"CONTAINS\""));
  }

  static JsonNode find(JsonNode array, String field, String value) {
    for (JsonNode n : array) {
      if (value.equals(n.path(field).asText())) {
        return n;
      }
    }
    throw new AssertionError("no " + field + "=" + value);
  }

  @Test
  void theSameBuildGivesTheSameBytesWhateverTheClockZoneOrOrder() throws Exception {
    Path a = Files.createDirectories(dir.resolve("a"));
    Path b = Files.createDirectories(dir.resolve("b"));
    new Attestations(Attestations.Keys.NONE).describe(record(PACKAGES, BASE, "d".repeat(64)), a);
    TimeZone zone = TimeZone.getDefault();
    try {
      TimeZone.setDefault(TimeZone.getTimeZone("Pacific/Kiritimati"));
      List<Lock.Package> shuffled = new ArrayList<>(PACKAGES);
      Collections.reverse(shuffled);
      List<BuildRecord.BasePackage> base = new ArrayList<>(BASE);
      Collections.reverse(base);
      Thread.sleep(1100);
      new Attestations(Attestations.Keys.NONE).describe(record(shuffled, base, "d".repeat(64)), b);
    } finally {
      TimeZone.setDefault(zone);
    }
    for (String f : List.of("hks-worker-1.34.2.cdx.json", "hks-worker-1.34.2.spdx.json")) {
      assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
    }
  }

  @Test
  void signedDocumentsVerifyAndEveryChangeIsFound() throws Exception {
    String[] p256 = p256();
    TestKeys.Pair pgp = TestKeys.keyPair("Release <release@example.org>");
    Attestations att = new Attestations(new Attestations.Keys(p256[0], pgp.secret(), new char[0]));
    Path image = Files.write(dir.resolve("hks-worker-1.34.2.qcow2"), "the image".getBytes(StandardCharsets.UTF_8));
    String sha = Digest.sha256(Files.readAllBytes(image)).encoded();
    Map<String, String> files = att.describe(record(PACKAGES, BASE, sha), dir);
    assertEquals("hks-worker-1.34.2.SHA256SUMS.asc", files.get("checksumsSignature"));
    Files.writeString(dir.resolve("hks-worker-1.34.2.json"), "{\"manifest\": true}\n");
    att.seal(dir, List.of("hks-worker-1.34.2.qcow2", "hks-worker-1.34.2.json", files.get("sbomCycloneDx"),
        files.get("sbomSpdx"), files.get("provenance")));
    List<Check> good = SignatureCheck.check(image, pgp.publicKey(), p256[1]);
    assertTrue(good.stream().noneMatch(Check::failed), good.toString());
    assertEquals(5, good.size(), good.toString());

    JsonNode env = JSON.readTree(dir.resolve(files.get("provenance")).toFile());
    JsonNode statement = JSON.readTree(Base64.getDecoder().decode(env.get("payload").asText()));
    assertEquals("https://slsa.dev/provenance/v1", statement.get("predicateType").asText());
    assertEquals(List.of("hks-worker-1.34.2.qcow2", "hks-worker-1.34.2.cdx.json", "hks-worker-1.34.2.spdx.json"),
        statement.get("subject").findValuesAsText("name"));
    assertEquals(sha, statement.at("/subject/0/digest/sha256").asText());
    JsonNode deps = statement.at("/predicate/buildDefinition/resolvedDependencies");
    assertEquals(1 + PACKAGES.size() + 1, deps.size(), "base, every package, every image");
    assertEquals("6".repeat(128), deps.at("/0/digest/sha512").asText());
    assertEquals("https://hypervisor.io/assemble@0.1.0", statement.at("/predicate/runDetails/builder/id").asText());

    // Another key, or one changed byte anywhere, and the checks say so.
    String[] other = p256();
    assertTrue(SignatureCheck.check(image, pgp.publicKey(), other[1]).stream()
        .anyMatch(c -> c.name().equals("provenance") && c.failed()));
    assertTrue(SignatureCheck.check(image, TestKeys.keyPair("Other <o@x>").publicKey(), p256[1]).stream()
        .anyMatch(c -> c.name().equals("checksums signature") && c.failed()));
    Files.writeString(image, "the image!");
    List<Check> changed = SignatureCheck.check(image, pgp.publicKey(), p256[1]);
    for (String n : List.of("checksums", "provenance", "sbom cyclonedx", "sbom spdx")) {
      assertTrue(changed.stream().anyMatch(c -> c.name().equals(n) && c.failed()), n + ": " + changed);
    }
  }

  @Test
  void unusableKeysAreRefusedBeforeTheBuild() {
    AssemblerException e = assertThrows(AssemblerException.class, () -> new Attestations(new Attestations.Keys(
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", null, new char[0])));
    assertTrue(e.getMessage().contains("SEC1"), e.getMessage());
    assertEquals(2, e.kind().exitCode());
    assertThrows(AssemblerException.class, () -> new Attestations(new Attestations.Keys(null,
        "not a key".getBytes(StandardCharsets.UTF_8), new char[0])));
  }

  @Test
  void purlsEncodeWhatTheSpecSays() {
    assertEquals("pkg:rpm/rocky/containerd.io@2.1.9-1.el9?arch=x86_64&distro=rocky-9",
        Purls.pkg("dnf", "rocky", "rocky-9", "containerd.io", "2.1.9-1.el9", "x86_64"));
    assertEquals("a%2Fb%20c%3A%25", Purls.encode("a/b c:%", ""));
    assertEquals("pkg:deb/debian/libpcap0.8@1:1.10.3-1?arch=amd64&distro=debian-12",
        Purls.pkg("apt", "debian", "debian-12", "libpcap0.8", "1:1.10.3-1", "amd64"));
    assertEquals("pkg:deb/debian/libstdc%2B%2B6@12.2.0-14+deb12u1?arch=amd64&distro=debian-12",
        Purls.pkg("apt", "debian", "debian-12", "libstdc++6", "12.2.0-14+deb12u1", "amd64"));
    assertEquals("c4c1a33b-8d3f-5f0f-9a3d-3c74bd2b1c4e".length(), Uuids.v5(Uuids.URL, "x").toString().length());
    // RFC 9562 test vector: UUIDv5 of "www.example.com" in the DNS namespace
    assertEquals("2ed6657d-e927-568b-95e1-2665a8aea6a2",
        Uuids.v5(java.util.UUID.fromString("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "www.example.com").toString());
  }
}
