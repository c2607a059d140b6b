package io.hypervisor.assembler.provenance;

import com.fasterxml.jackson.databind.JsonNode;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.SmallFiles;
import io.hypervisor.assembler.pkgrepo.Signatures;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code assemble verify-signatures IMAGE}: everything written beside an image checked offline,
 * as an admin would with standard tools: every file of NAME.SHA256SUMS at its sha256 (sha256sum -c),
 * NAME.SHA256SUMS.asc by the trusted OpenPGP key (gpgv), the provenance's DSSE signature by the
 * trusted ECDSA key (cosign verify-blob-attestation) and its subjects at their sha256, and both
 * SBOMs naming the image's sha256. A key not given is a check skipped, said as such.
 */
public final class SignatureCheck {
  private SignatureCheck() {}

  /** The checks for {@code image}; {@code openPgpPublic} and {@code provenancePem} may be null. */
  public static List<Check> check(Path image, byte[] openPgpPublic, String provenancePem) throws IOException {
    List<Check> out = new ArrayList<>();
    Path dir = image.toAbsolutePath().getParent();
    String stem = Attestations.stem(image.getFileName().toString());
    String imageSha = sha256(image);
    Path sums = dir.resolve(stem + ".SHA256SUMS");
    byte[] sumsText = readOrNull(sums);
    if (sumsText == null) {
      out.add(Check.fail("checksums", "no " + sums.getFileName() + " beside the image"));
    } else {
      out.add(checksums(dir, sumsText, image.getFileName().toString()));
      Path asc = dir.resolve(stem + ".SHA256SUMS.asc");
      byte[] sig = readOrNull(asc);
      if (openPgpPublic == null) {
        out.add(new Check("checksums signature", Check.Status.SKIP, sig == null ? "not signed"
            : "present, not checked (give --trust-key)"));
      } else if (sig == null) {
        out.add(Check.fail("checksums signature", "no " + asc.getFileName() + ": the checksums are not signed"));
      } else {
        try {
          Signatures.verifyDetached(sumsText, sig, Signatures.keyring(openPgpPublic), asc.getFileName().toString());
          out.add(Check.ok("checksums signature", asc.getFileName() + ": good signature by the trusted key"));
        } catch (IOException e) {
          out.add(Check.fail("checksums signature", e.getMessage()));
        }
      }
    }
    out.add(provenance(dir.resolve(stem + ".provenance.json"), provenancePem, dir));
    out.add(sbom(dir.resolve(stem + ".cdx.json"), "/metadata/component/hashes/0/content", imageSha, "sbom cyclonedx"));
    out.add(sbom(dir.resolve(stem + ".spdx.json"), "/packages/0/checksums/0/checksumValue", imageSha, "sbom spdx"));
    return out;
  }

  private static Check checksums(Path dir, byte[] text, String image) throws IOException {
    List<String> bad = new ArrayList<>();
    int n = 0;
    boolean hasImage = false;
    for (String line : new String(text, StandardCharsets.UTF_8).split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split(" {2}| \\*", 2);
      if (f.length != 2 || !f[0].matches("[0-9a-f]{64}") || !f[1].matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
        return Check.fail("checksums", "malformed line: " + (line.length() > 80 ? line.substring(0, 80) : line));
      }
      n++;
      hasImage |= f[1].equals(image);
      Path p = dir.resolve(f[1]);
      if (!Files.isRegularFile(p)) {
        bad.add(f[1] + " missing");
      } else if (!sha256(p).equals(f[0])) {
        bad.add(f[1] + " changed");
      }
    }
    if (!hasImage) {
      bad.add(image + " not listed");
    }
    return bad.isEmpty() ? Check.ok("checksums", n + " files at their sha256") : Check.fail("checksums",
        String.join(", ", bad));
  }

  private static Check provenance(Path file, String pem, Path dir) throws IOException {
    byte[] raw = readOrNull(file);
    if (raw == null) {
      return Check.fail("provenance", "no " + file.getFileName());
    }
    JsonNode env;
    try {
      env = Json.MAPPER.readTree(raw);
    } catch (IOException e) {
      return Check.fail("provenance", file.getFileName() + " is not JSON");
    }
    byte[] payload;
    String how;
    if (pem == null) {
      try {
        payload = Base64.getDecoder().decode(env.path("payload").asText());
      } catch (IllegalArgumentException e) {
        return Check.fail("provenance", "the payload is not base64");
      }
      how = "signature not checked (give --provenance-pub)";
    } else {
      PublicKey pub;
      try {
        pub = Dsse.publicKey(pem);
      } catch (GeneralSecurityException e) {
        return Check.fail("provenance", "the provenance public key is not usable: " + e.getMessage());
      }
      try {
        payload = Dsse.verify(env, pub);
      } catch (IOException e) {
        return Check.fail("provenance", e.getMessage());
      }
      how = "good signature by the trusted key";
    }
    JsonNode st = Json.MAPPER.readTree(payload);
    if (!SlsaProvenance.STATEMENT.equals(st.path("_type").asText())
        || !SlsaProvenance.PREDICATE.equals(st.path("predicateType").asText())) {
      return Check.fail("provenance", "not an in-toto statement of SLSA provenance v1");
    }
    Map<String, String> subjects = new LinkedHashMap<>();
    st.path("subject").forEach(s -> subjects.put(s.path("name").asText(), s.path("digest").path("sha256").asText()));
    List<String> bad = new ArrayList<>();
    for (var e : subjects.entrySet()) {
      Path p = dir.resolve(e.getKey());
      if (!e.getKey().matches("[A-Za-z0-9][A-Za-z0-9._-]*") || !Files.isRegularFile(p)) {
        bad.add(e.getKey() + " missing");
      } else if (!sha256(p).equals(e.getValue())) {
        bad.add(e.getKey() + " is not what the provenance names");
      }
    }
    return bad.isEmpty() ? Check.ok("provenance", how + "; " + subjects.size() + " subjects at their sha256")
        : Check.fail("provenance", String.join(", ", bad));
  }

  private static Check sbom(Path file, String pointer, String imageSha, String name) throws IOException {
    byte[] raw = readOrNull(file);
    if (raw == null) {
      return Check.fail(name, "no " + file.getFileName());
    }
    try {
      String named = Json.MAPPER.readTree(raw).at(pointer).asText();
      return named.equals(imageSha) ? Check.ok(name, file.getFileName() + " describes this image")
          : Check.fail(name, file.getFileName() + " describes another image (" + named + ")");
    } catch (IOException e) {
      return Check.fail(name, file.getFileName() + " is not JSON");
    }
  }

  private static byte[] readOrNull(Path p) throws IOException {
    try {
      return SmallFiles.read(p, SmallFiles.LOCK, "attestation file");
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private static String sha256(Path p) throws IOException {
    try (InputStream in = Files.newInputStream(p)) {
      return Digest.of("sha256", in).encoded();
    }
  }
}
