package io.hypervisor.assembler.provenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.ReleaseKeys;
import io.hypervisor.assembler.testworld.SuiteImage;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.SuiteImages.Built;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.testworld.UsesImages;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a signed build writes beside its image, checked by tools that share no code with ours, the
 * way an admin checks it: {@code sha256sum -c}, {@code gpgv}, Debian trixie's {@code cosign
 * verify-blob-attestation} (offline, in an empty network namespace), the CycloneDX project's own
 * validator and ajv on the SBOMs, packageurl-js on every purl; then the same after one changed byte
 * in the image, the checksums or the provenance, which each of them must notice.
 */
@Tag("integration")
@UsesImages(SuiteImage.WORKER)
class ProvenanceOracleIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** What the README tells admins to set: cosign's default (128 MiB) is smaller than any node image. */
  private static final String COSIGN_MAX = "16GiB";
  private static Built built;
  private static ReleaseKeys keys;
  private static Path oracles;
  private static String stem;

  @TempDir
  Path tmp;

  @BeforeAll
  static void build() {
    built = SuiteImages.get(SuiteImage.WORKER);
    assertEquals(0, built.code(), built.out() + built.err());
    keys = ReleaseKeys.get();
    oracles = Fixtures.part("attest-oracles");
    stem = built.image().getFileName().toString().replaceFirst("\\.qcow2$", "");
  }

  @Test
  void theCatalogueManifestNamesEveryFileAndTheChecksumsCoverThem() throws IOException {
    JsonNode files = JSON.readTree(built.manifest().toFile()).get("files");
    Map<String, String> expected = new TreeMap<>(Map.of("sbomCycloneDx", stem + ".cdx.json", "sbomSpdx",
        stem + ".spdx.json", "provenance", stem + ".provenance.json", "checksums", stem + ".SHA256SUMS",
        "checksumsSignature", stem + ".SHA256SUMS.asc", "tree", stem + ".mtree"));
    assertEquals(expected, JSON.convertValue(files, TreeMap.class));
    Path dir = built.image().getParent();
    expected.values().forEach(f -> assertTrue(Files.isRegularFile(dir.resolve(f)), f));

    Tools.Result sums = Tools.run(List.of("sha256sum", "--strict", "-c", stem + ".SHA256SUMS"), dir, 300);
    assertEquals(0, sums.code(), sums.out() + sums.err());
    Set<String> listed = new TreeSet<>(sums.out().lines().map(l -> l.replaceFirst(": OK$", "")).toList());
    assertEquals(new TreeSet<>(List.of(built.image().getFileName().toString(), built.manifest().getFileName().toString(),
        stem + ".cdx.json", stem + ".spdx.json", stem + ".provenance.json", stem + ".mtree")), listed);

    Tools.Result gpgv = gpgv(dir.resolve(stem + ".SHA256SUMS"));
    assertEquals(0, gpgv.code(), gpgv.err());
    assertTrue(gpgv.err().contains("Good signature"), gpgv.err());
  }

  @Test
  void cosignVerifiesTheProvenanceOfflineAndItNamesEveryInput() throws IOException {
    Path dir = built.image().getParent();
    Tools.Result cosign = cosign(dir.resolve(stem + ".provenance.json"), built.image());
    assertEquals(0, cosign.code(), cosign.out() + cosign.err());
    assertTrue(cosign.err().contains("Verified OK"), cosign.err());

    JsonNode env = JSON.readTree(dir.resolve(stem + ".provenance.json").toFile());
    assertEquals("application/vnd.in-toto+json", env.get("payloadType").asText());
    JsonNode statement = JSON.readTree(java.util.Base64.getDecoder().decode(env.get("payload").asText()));
    JsonNode manifest = JSON.readTree(built.manifest().toFile());
    assertEquals(manifest.at("/image/sha256").asText(), statement.at("/subject/0/digest/sha256").asText());
    List<String> uris = statement.at("/predicate/buildDefinition/resolvedDependencies").findValuesAsText("uri");
    JsonNode lock = JSON.readTree(built.lock().toFile());
    for (JsonNode p : lock.get("packages")) {
      assertTrue(uris.contains(p.get("url").asText()), "every locked package: " + p);
    }
    for (JsonNode i : manifest.get("images")) {
      assertTrue(uris.stream().anyMatch(u -> u.startsWith("oci://") && u.endsWith("@" + i.get("digest").asText())),
          "every seeded image: " + i + " in " + uris);
    }
  }

  @Test
  void theSbomsPassTheCycloneDxProjectsValidatorAndAjvAndDescribeTheImage() throws IOException {
    Path dir = built.image().getParent();
    Path spdxSchema = tmp.resolve("spdx-schema-v2.3.json");
    try (InputStream in = ProvenanceOracleIT.class.getResourceAsStream("/resources/spdx-schema-v2.3.json")) {
      Files.copy(in, spdxSchema);
    }
    Tools.Result cdx = node(dir.resolve(stem + ".cdx.json"));
    assertEquals(0, cdx.code(), cdx.out() + cdx.err());
    assertTrue(cdx.out().startsWith("valid cyclonedx-1.6 "), cdx.out());
    Tools.Result spdx = node(dir.resolve(stem + ".spdx.json"), spdxSchema);
    assertEquals(0, spdx.code(), spdx.out() + spdx.err());
    assertTrue(spdx.out().startsWith("valid spdx-2.3 "), spdx.out());

    JsonNode bom = JSON.readTree(dir.resolve(stem + ".cdx.json").toFile());
    JsonNode manifest = JSON.readTree(built.manifest().toFile());
    assertEquals(manifest.at("/image/sha256").asText(), bom.at("/metadata/component/hashes/0/content").asText());
    List<String> purls = bom.get("components").findValuesAsText("purl");
    for (JsonNode p : manifest.get("packages")) {
      String purl = Purls.pkg("apt", "debian", "debian-12", p.get("name").asText(), p.get("version").asText(),
          p.get("architecture").asText());
      assertTrue(purls.contains(purl), purl + " in " + purls);
    }
    for (JsonNode i : manifest.get("images")) {
      assertTrue(purls.stream().anyMatch(u -> u.startsWith("pkg:oci/") && u.contains("@" + i.get("digest").asText())),
          i + " in " + purls);
    }
    // The base's own packages (its dpkg status) are there too, and marked as the base's.
    assertTrue(purls.stream().anyMatch(u -> u.startsWith("pkg:deb/debian/base-files@")), purls.toString());
    assertTrue(purls.size() > 150, "a Debian cloud image has a few hundred packages: " + purls.size());
  }

  @Test
  void assembleVerifySignaturesAgrees() {
    SuiteImages.Run r = SuiteImages.run("verify-signatures", built.image().toString(), "--trust-key",
        keys.openPgpPublic().toString(), "--provenance-pub", keys.provenancePub().toString());
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("all 5 checks passed"), r.out());
  }

  @Test
  void oneChangedByteAnywhereIsNoticedByEveryTool() throws IOException {
    Path src = built.image().getParent();
    Path dir = Files.createDirectories(tmp.resolve("copy"));
    List<String> names = new ArrayList<>();
    try (var s = Files.list(src)) {
      s.filter(p -> p.getFileName().toString().startsWith(stem + ".")).forEach(p -> names.add(p.getFileName().toString()));
    }
    for (String n : names) {
      Files.copy(src.resolve(n), dir.resolve(n));
    }
    Path image = dir.resolve(built.image().getFileName());
    Path sums = dir.resolve(stem + ".SHA256SUMS");
    Path provenance = dir.resolve(stem + ".provenance.json");
    assertEquals(0, Tools.run(List.of("sha256sum", "-c", sums.getFileName().toString()), dir, 300).code());

    flip(image, Files.size(image) / 2);
    assertNotEquals(0, Tools.run(List.of("sha256sum", "-c", sums.getFileName().toString()), dir, 300).code());
    Tools.Result cosign = cosign(provenance, image);
    assertNotEquals(0, cosign.code(), "cosign accepted a changed image: " + cosign.err());
    assertTrue(cosign.err().contains("does not match") || cosign.err().contains("digest"), cosign.err());
    SuiteImages.Run r = SuiteImages.run("verify-signatures", image.toString(), "--trust-key",
        keys.openPgpPublic().toString(), "--provenance-pub", keys.provenancePub().toString());
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("changed"), r.out());
    flip(image, Files.size(image) / 2);
    assertEquals(0, cosign(provenance, image).code(), "the byte back, the image is the one signed");

    String text = Files.readString(provenance);
    int key = text.indexOf("\"payload\"");
    int at = text.indexOf('"', text.indexOf(':', key)) + 1 + 40; // a character inside the base64 payload
    Files.writeString(provenance, text.substring(0, at) + (text.charAt(at) == 'A' ? 'B' : 'A') + text.substring(at + 1));
    Tools.Result changed = cosign(provenance, image);
    assertNotEquals(0, changed.code(), "cosign accepted a changed provenance");
    assertTrue(changed.err().contains("signature"), changed.err());

    assertEquals(0, gpgv(sums).code());
    flip(sums, 3);
    Tools.Result gpgv = gpgv(sums);
    assertNotEquals(0, gpgv.code(), "gpgv accepted changed checksums: " + gpgv.err());
  }

  private static void flip(Path file, long offset) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(offset);
      int b = f.read();
      f.seek(offset);
      f.write(b ^ 0x01);
    }
  }

  /** gpgv as an admin runs it: the release key dearmored into a keyring of its own. */
  private Tools.Result gpgv(Path sums) throws IOException {
    Path keyring = tmp.resolve("release.gpg");
    if (!Files.exists(keyring)) {
      Tools.run(List.of("gpg", "--batch", "--yes", "--dearmor", "-o", keyring.toString(),
          keys.openPgpPublic().toString())).ok();
    }
    return Tools.run(List.of("gpgv", "--keyring", keyring.toString(), sums + ".asc", sums.toString()), null, 120);
  }

  /** cosign with no network and an empty home: nothing it does may need the public good instance. */
  private Tools.Result cosign(Path provenance, Path image) throws IOException {
    Path home = Files.createDirectories(tmp.resolve("cosign-home"));
    // cosign reads the whole blob into memory and refuses blobs over 128 MiB unless told otherwise.
    return Tools.run(List.of("env", "HOME=" + home, "COSIGN_MAX_ATTACHMENT_SIZE=" + COSIGN_MAX, "unshare", "-n", oracles.resolve("bin/cosign").toString(),
        "verify-blob-attestation", "--key", keys.provenancePub().toString(), "--insecure-ignore-tlog",
        "--type", "slsaprovenance1", "--signature", provenance.toString(), image.toString()), null, 300);
  }

  private static Tools.Result node(Path... args) {
    List<String> cmd = new ArrayList<>(List.of("node", oracles.resolve("validate-sbom.mjs").toString()));
    for (Path a : args) {
      cmd.add(a.toString());
    }
    return Tools.run(cmd, null, 300);
  }
}
