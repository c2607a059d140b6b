package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * gpg with a private home: the test world's signing key (to re-sign tampered copies of its
 * repositories) and, on demand, a stranger's key (to sign with a key nobody trusts).
 */
public final class Gpg {
  private final Path home;

  public Gpg(Path home) throws IOException {
    this.home = home;
    Files.createDirectories(home);
    Files.setPosixFilePermissions(home, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    run("--import", Fixtures.part("repos").resolve("signing-key.asc").toString());
  }

  /** The test world key's fingerprint. */
  public static String worldFingerprint() throws IOException {
    return Files.readString(Fixtures.part("repos").resolve("key.fingerprint")).trim();
  }

  /** Creates a throw-away key for {@code uid} and returns its fingerprint. */
  public String newKey(String uid) {
    run("--quick-gen-key", "--passphrase", "", uid, "rsa2048", "sign", "never");
    String out = run("--with-colons", "--fingerprint", uid);
    return out.lines().filter(l -> l.startsWith("fpr:")).findFirst().orElseThrow().split(":")[9];
  }

  /** The armored public key of a fingerprint. */
  public byte[] export(String fingerprint) {
    return run("--armor", "--export", fingerprint).getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  public void clearsign(String fingerprint, Path in, Path out) {
    run("--yes", "--local-user", fingerprint, "--clearsign", "--output", out.toString(), in.toString());
  }

  public void detachSign(String fingerprint, Path in, Path out) {
    run("--yes", "--local-user", fingerprint, "--armor", "--detach-sign", "--output", out.toString(), in.toString());
  }

  /** rpmsign (replacing any signature) with one of this home's keys. */
  public void rpmsign(String fingerprint, Path rpm) {
    Tools.run(List.of("rpmsign", "--define", "__gpg /usr/bin/gpg", "--define", "_gpg_name " + fingerprint,
        "--define", "_gpg_path " + home, "--resign", rpm.toString())).ok();
  }

  public String run(String... args) {
    List<String> cmd = new ArrayList<>(List.of("gpg", "--homedir", home.toString(), "--batch", "--pinentry-mode",
        "loopback"));
    cmd.addAll(List.of(args));
    return Tools.run(cmd).ok().out();
  }
}
