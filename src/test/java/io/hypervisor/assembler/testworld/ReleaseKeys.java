package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The keys a release build signs with, made the way an admin makes them: the test world's OpenPGP
 * key (its secret for {@code --sign-key}, its public part for gpgv and {@code --trust-key}) and an
 * ECDSA P-256 key from {@code openssl genpkey} (PKCS#8 PEM for {@code --provenance-key}, its
 * public PEM for cosign and {@code --provenance-pub}).
 */
public record ReleaseKeys(Path openPgpSecret, Path openPgpPublic, Path provenanceKey, Path provenancePub) {
  private static ReleaseKeys keys;

  /** The suite's keys, made once per run under the suite's directory. */
  public static synchronized ReleaseKeys get() {
    if (keys == null) {
      try {
        Path dir = Files.createDirectories(SuiteImages.root().resolve("release-keys"));
        Path key = dir.resolve("provenance.pem");
        Path pub = dir.resolve("provenance.pub");
        Tools.run(List.of("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", key.toString())).ok();
        Tools.run(List.of("openssl", "pkey", "-in", key.toString(), "-pubout", "-out", pub.toString())).ok();
        Path repos = Fixtures.part("repos");
        keys = new ReleaseKeys(repos.resolve("signing-key.asc"), repos.resolve("apt/core:/stable:/v1.34/deb/Release.key"),
            key, pub);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return keys;
  }

  /** The assemble options that sign with these keys. */
  public List<String> signOptions() {
    return List.of("--sign-key", openPgpSecret.toString(), "--provenance-key", provenanceKey.toString());
  }
}
