package io.hypervisor.assembler.provenance;

import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.plan.Attestor;
import io.hypervisor.assembler.plan.BuildRecord;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The documents every build writes beside its image {@code NAME.qcow2}: {@code NAME.cdx.json}
 * (CycloneDX 1.6), {@code NAME.spdx.json} (SPDX 2.3), {@code NAME.provenance.json} (SLSA v1 in a
 * DSSE envelope, signed when an ECDSA P-256 key is given), and after the catalogue manifest
 * {@code NAME.SHA256SUMS} over all of them (with {@code NAME.SHA256SUMS.asc}, a detached OpenPGP
 * signature, when an OpenPGP key is given). Every file appears under its name only when complete.
 */
public final class Attestations implements Attestor {
  /** Keys: an ECDSA P-256 private key (PKCS#8 PEM) for the provenance, an OpenPGP secret key for the checksums. */
  public record Keys(String provenancePem, byte[] openPgpSecret, char[] passphrase) {
    public static final Keys NONE = new Keys(null, null, new char[0]);
  }

  private final Keys keys;
  private final PrivateKey provenanceKey;
  private final PublicKey provenancePublic;

  /** Checks the keys now (a bad key must not surface only after a build of minutes). */
  public Attestations(Keys keys) {
    this.keys = keys;
    if (keys.provenancePem() != null) {
      try {
        provenanceKey = Dsse.privateKey(keys.provenancePem());
        provenancePublic = Dsse.publicOf(provenanceKey);
      } catch (GeneralSecurityException | RuntimeException e) {
        throw AssemblerException.input("the provenance key is not usable: " + AssemblerException.describe(e),
            "give an unencrypted ECDSA P-256 key in PKCS#8 PEM: openssl genpkey -algorithm EC -pkeyopt "
                + "ec_paramgen_curve:P-256 -out provenance.key");
      }
    } else {
      provenanceKey = null;
      provenancePublic = null;
    }
    if (keys.openPgpSecret() != null) {
      try {
        Signatures.sign(new byte[0], keys.openPgpSecret(), keys.passphrase(), "a test signature");
      } catch (IOException e) {
        throw AssemblerException.input("the signing key is not usable: " + e.getMessage(),
            "give an OpenPGP secret key (gpg --export-secret-keys --armor KEYID) and its passphrase in "
                + "$ASSEMBLE_SIGN_PASSPHRASE");
      }
    }
  }

  static String stem(String imageFile) {
    return imageFile.replaceFirst("\\.(qcow2|img|raw)$", "");
  }

  @Override
  public Map<String, String> describe(BuildRecord build, Path dir) throws IOException {
    Inventory inv = Inventory.of(build);
    String stem = stem(build.image().file());
    Map<String, String> files = new LinkedHashMap<>();
    byte[] cdx = CycloneDx.write(inv);
    byte[] spdx = Spdx.write(inv);
    files.put("sbomCycloneDx", write(dir, stem + ".cdx.json", cdx));
    files.put("sbomSpdx", write(dir, stem + ".spdx.json", spdx));
    Map<String, String> subjects = new LinkedHashMap<>();
    subjects.put(build.image().file(), build.image().sha256());
    subjects.put(stem + ".cdx.json", Digest.sha256(cdx).encoded());
    subjects.put(stem + ".spdx.json", Digest.sha256(spdx).encoded());
    byte[] statement = Json.compact(SlsaProvenance.statement(build, subjects));
    try {
      files.put("provenance", write(dir, stem + ".provenance.json", Json.bytes(Dsse.envelope(statement, provenanceKey,
          provenancePublic))));
    } catch (GeneralSecurityException e) {
      throw new IOException("signing the provenance: " + e.getMessage(), e);
    }
    // What seal() will write, named now so the catalogue manifest (which seal covers) can say so.
    files.put("checksums", stem + ".SHA256SUMS");
    if (keys.openPgpSecret() != null) {
      files.put("checksumsSignature", stem + ".SHA256SUMS.asc");
    }
    return files;
  }

  @Override
  public Map<String, String> seal(Path dir, List<String> names) throws IOException {
    Map<String, String> sums = new TreeMap<>();
    for (String n : names) {
      try (InputStream in = Files.newInputStream(dir.resolve(n))) {
        sums.put(n, Digest.of("sha256", in).encoded());
      }
    }
    StringBuilder b = new StringBuilder();
    sums.forEach((n, h) -> b.append(h).append("  ").append(n).append('\n'));
    byte[] text = b.toString().getBytes(StandardCharsets.UTF_8);
    String stem = stem(names.get(0));
    Map<String, String> files = new LinkedHashMap<>();
    files.put("checksums", write(dir, stem + ".SHA256SUMS", text));
    if (keys.openPgpSecret() != null) {
      files.put("checksumsSignature", write(dir, stem + ".SHA256SUMS.asc",
          Signatures.sign(text, keys.openPgpSecret(), keys.passphrase(), "the checksums")));
    } else {
      // A signature left from an earlier, signed build would sign other checksums: gpgv would fail
      // on a good image, or worse, a reader would think this build was signed.
      Files.deleteIfExists(dir.resolve(stem + ".SHA256SUMS.asc"));
    }
    return files;
  }

  /** Writes atomically: a temporary name, then renamed. */
  static String write(Path dir, String name, byte[] data) throws IOException {
    Path tmp = dir.resolve("." + name + ".tmp");
    Files.write(tmp, data);
    Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return name;
  }
}
