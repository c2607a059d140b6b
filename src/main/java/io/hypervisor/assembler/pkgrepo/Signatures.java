package io.hypervisor.assembler.pkgrepo;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.bouncycastle.bcpg.ArmoredInputStream;
import org.bouncycastle.bcpg.ArmoredOutputStream;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPPublicKey;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;
import org.bouncycastle.openpgp.PGPSignature;
import org.bouncycastle.openpgp.PGPSignatureList;
import org.bouncycastle.openpgp.PGPUtil;
import org.bouncycastle.openpgp.bc.BcPGPObjectFactory;
import org.bouncycastle.openpgp.operator.bc.BcKeyFingerprintCalculator;
import org.bouncycastle.openpgp.operator.bc.BcPGPContentVerifierBuilderProvider;

/**
 * OpenPGP as package repositories use it: keyrings (armored or binary), pinned by the primary
 * key's fingerprint; InRelease (clearsigned) and detached signatures (Release.gpg,
 * repomd.xml.asc), text or binary mode; refuses weak digests (MD5, SHA-1), expired and revoked
 * keys, and keys that are not the pinned one. Messages name the key and the reason.
 */
public final class Signatures {
  private Signatures() {}

  /** A keyring read from armored or binary bytes. */
  public static PGPPublicKeyRingCollection keyring(byte[] data) throws IOException {
    try (InputStream in = PGPUtil.getDecoderStream(new ByteArrayInputStream(data))) {
      return new PGPPublicKeyRingCollection(in, new BcKeyFingerprintCalculator());
    } catch (PGPException | IllegalArgumentException e) {
      String m = String.valueOf(e.getMessage());
      throw new IOException(m.contains("PGPSecretKeyRing")
          ? "it holds a secret key; give the public key (gpg --export, or the repository's Release.key)"
          : "not an OpenPGP public keyring: " + m, e);
    }
  }

  public static String fingerprint(PGPPublicKey key) {
    return HexFormat.of().withUpperCase().formatHex(key.getFingerprint());
  }

  /** The primary keys' fingerprints in a keyring. */
  public static List<String> fingerprints(PGPPublicKeyRingCollection ring) {
    List<String> out = new ArrayList<>();
    for (Iterator<PGPPublicKeyRing> it = ring.getKeyRings(); it.hasNext(); ) {
      out.add(fingerprint(it.next().getPublicKey()));
    }
    return out;
  }

  /**
   * Only the key ring whose primary key has the pinned fingerprint (with its subkeys), or an error
   * naming what the keyring holds instead.
   */
  public static PGPPublicKeyRingCollection pinned(byte[] keyData, String fingerprint, String what) throws IOException {
    PGPPublicKeyRingCollection ring;
    try {
      ring = keyring(keyData);
    } catch (IOException e) {
      throw new IOException("reading the key for " + what + ": " + e.getMessage(), e);
    }
    String want = normalise(fingerprint);
    for (Iterator<PGPPublicKeyRing> it = ring.getKeyRings(); it.hasNext(); ) {
      PGPPublicKeyRing r = it.next();
      if (fingerprint(r.getPublicKey()).equals(want)) {
        return new PGPPublicKeyRingCollection(List.of(r));
      }
    }
    throw new IOException("the key for " + what + " is not the pinned key " + want + " (it holds "
        + String.join(", ", fingerprints(ring)) + ")");
  }

  /**
   * A repository key from a local file or a URL, accepted only for the pinned fingerprint
   * (a key fetched from a URL is only as good as its pin).
   */
  public static PGPPublicKeyRingCollection load(io.hypervisor.assembler.http.HttpTransport http, String path, String url,
      String fingerprint, String what) throws IOException {
    if (fingerprint == null) {
      throw new IOException(what + " has no pinned key fingerprint");
    }
    if (path != null) {
      return pinned(io.hypervisor.assembler.model.SmallFiles.read(java.nio.file.Path.of(path),
          io.hypervisor.assembler.model.SmallFiles.KEY, what + " key"), fingerprint, what + " (" + path + ")");
    }
    if (url == null) {
      throw new IOException(what + " has no key; give key.url or key.path with a fingerprint");
    }
    var resp = http.get(java.net.URI.create(url), java.util.Map.of(), io.hypervisor.assembler.http.Authenticator.NONE,
        1 << 20);
    if (!resp.ok()) {
      throw new IOException("fetching the key of " + what + " from " + url + ": HTTP " + resp.status());
    }
    return pinned(resp.body(), fingerprint, what + " (" + url + ")");
  }

  public static String normalise(String fingerprint) {
    return fingerprint.replace(" ", "").toUpperCase(Locale.ROOT);
  }

  /** The keys as an armored public key block. */
  public static byte[] armored(PGPPublicKeyRingCollection ring) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ArmoredOutputStream a = new ArmoredOutputStream(out)) {
      ring.encode(a);
    }
    return out.toByteArray();
  }

  /** The keys in binary form, as apt's Signed-By keyrings and /etc/apt/keyrings want them. */
  public static byte[] dearmored(PGPPublicKeyRingCollection ring) throws IOException {
    return ring.getEncoded();
  }

  /**
   * A detached, armored, binary-mode signature over {@code data} by the first signing-capable key
   * of an OpenPGP secret key block (armored or binary, as {@code gpg --export-secret-keys} writes
   * it), unlocked with {@code passphrase} (empty for an unprotected key). SHA-256.
   */
  public static byte[] sign(byte[] data, byte[] secretKeys, char[] passphrase, String what) throws IOException {
    try {
      org.bouncycastle.openpgp.PGPSecretKeyRingCollection rings = new org.bouncycastle.openpgp.PGPSecretKeyRingCollection(
          PGPUtil.getDecoderStream(new ByteArrayInputStream(secretKeys)), new BcKeyFingerprintCalculator());
      for (Iterator<org.bouncycastle.openpgp.PGPSecretKeyRing> r = rings.getKeyRings(); r.hasNext(); ) {
        for (Iterator<org.bouncycastle.openpgp.PGPSecretKey> k = r.next().getSecretKeys(); k.hasNext(); ) {
          org.bouncycastle.openpgp.PGPSecretKey key = k.next();
          if (!key.isSigningKey() || key.isPrivateKeyEmpty()) {
            continue;
          }
          org.bouncycastle.openpgp.PGPPrivateKey priv = key.extractPrivateKey(
              new org.bouncycastle.openpgp.operator.bc.BcPBESecretKeyDecryptorBuilder(
                  new org.bouncycastle.openpgp.operator.bc.BcPGPDigestCalculatorProvider()).build(passphrase));
          org.bouncycastle.openpgp.PGPSignatureGenerator gen = new org.bouncycastle.openpgp.PGPSignatureGenerator(
              new org.bouncycastle.openpgp.operator.bc.BcPGPContentSignerBuilder(
                  key.getPublicKey().getAlgorithm(), HashAlgorithmTags.SHA256));
          gen.init(PGPSignature.BINARY_DOCUMENT, priv);
          gen.update(data);
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          try (ArmoredOutputStream a = new ArmoredOutputStream(out)) {
            gen.generate().encode(a);
          }
          return out.toByteArray();
        }
      }
      throw new IOException("the secret key block has no signing key with its secret part");
    } catch (PGPException e) {
      throw new IOException("cannot sign " + what + ": " + e.getMessage() + " (wrong passphrase?)", e);
    }
  }

  /** Verifies a detached signature (armored or binary) over {@code data}. */
  public static void verifyDetached(byte[] data, byte[] signature, PGPPublicKeyRingCollection keys, String what)
      throws IOException {
    PGPSignatureList sigs = signatures(signature, what);
    verify(sigs, keys, what, sig -> {
      if (sig.getSignatureType() == PGPSignature.CANONICAL_TEXT_DOCUMENT) {
        sig.update(canonicalText(data));
      } else {
        sig.update(data);
      }
    });
  }

  /**
   * Verifies a binary-mode detached signature (an OpenPGP signature packet, as rpm stores it in a
   * package's signature header) over data read from a stream, so large payloads need no buffer.
   */
  public static void verifyDetached(InputStream data, byte[] signature, PGPPublicKeyRingCollection keys, String what)
      throws IOException {
    PGPSignatureList sigs = signatures(signature, what);
    verify(sigs, keys, what, sig -> {
      byte[] buf = new byte[1 << 16];
      for (int n = data.read(buf); n >= 0; n = data.read(buf)) {
        sig.update(buf, 0, n);
      }
    });
  }

  /**
   * Verifies a clearsigned message (InRelease) and returns its text (dash-escaping undone),
   * which is what the signature covers.
   */
  public static byte[] verifyClearsigned(byte[] message, PGPPublicKeyRingCollection keys, String what) throws IOException {
    ArmoredInputStream in = new ArmoredInputStream(new ByteArrayInputStream(message));
    if (!in.isClearText()) {
      throw new IOException(what + " is not a clearsigned message");
    }
    // The cleartext: lines up to the signature armor, as the armored stream returns them.
    ByteArrayOutputStream text = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0 && in.isClearText()) {
      text.write(c);
    }
    byte[] raw = text.toByteArray();
    // ArmoredInputStream leaves the line break before the signature armor in the text; it is
    // not part of the signed message.
    int end = raw.length;
    if (end > 0 && raw[end - 1] == '\n') {
      end--;
    }
    if (end > 0 && raw[end - 1] == '\r') {
      end--;
    }
    byte[] signed = java.util.Arrays.copyOf(raw, end);
    PGPSignatureList sigs = signatures(in, what);
    verify(sigs, keys, what, sig -> sig.update(canonicalText(signed)));
    return signed;
  }

  private static PGPSignatureList signatures(byte[] signature, String what) throws IOException {
    InputStream in;
    try {
      in = PGPUtil.getDecoderStream(new ByteArrayInputStream(signature));
    } catch (IOException | RuntimeException e) {
      throw new IOException("verifying " + what + ": the signature is unreadable (" + e.getMessage() + ")", e);
    }
    return signatures(in, what);
  }

  private static PGPSignatureList signatures(InputStream in, String what) throws IOException {
    Object o;
    try {
      o = new BcPGPObjectFactory(in).nextObject();
    } catch (IOException | RuntimeException e) {
      throw new IOException("verifying " + what + ": the signature is unreadable (" + e.getMessage() + ")", e);
    }
    if (o instanceof PGPSignatureList l) {
      return l;
    }
    throw new IOException("verifying " + what + ": no OpenPGP signature found");
  }

  /** Feeds the signed data to a signature (which knows its text/binary mode). */
  @FunctionalInterface
  private interface Feed {
    void into(PGPSignature sig) throws IOException;
  }

  /**
   * Every signature by a key of {@code keys} must be good and at least one must exist
   * (gpgv's rule: a BADSIG fails, signatures by unknown keys are ignored).
   */
  private static void verify(PGPSignatureList sigs, PGPPublicKeyRingCollection keys, String what, Feed feed)
      throws IOException {
    List<String> reasons = new ArrayList<>();
    int good = 0;
    for (PGPSignature sig : sigs) {
      PGPPublicKey key = keys.getPublicKey(sig.getKeyID());
      PGPPublicKeyRing ring = keys.getPublicKeyRing(sig.getKeyID());
      if (key == null) {
        reasons.add("signed by key " + String.format("%016X", sig.getKeyID()) + ", which is not a trusted key ("
            + String.join(", ", fingerprints(keys)) + ")");
        continue;
      }
      int hash = sig.getHashAlgorithm();
      if (hash == HashAlgorithmTags.MD5 || hash == HashAlgorithmTags.SHA1 || hash == HashAlgorithmTags.RIPEMD160) {
        throw new IOException("verifying " + what + ": signature by " + fingerprint(ring.getPublicKey())
            + " uses a weak digest (algorithm " + hash + ")");
      }
      if (ring.getPublicKey().hasRevocation() || key.hasRevocation()) {
        throw new IOException("verifying " + what + ": key " + fingerprint(ring.getPublicKey()) + " is revoked");
      }
      long valid = key.getValidSeconds();
      if (valid > 0 && Instant.now().isAfter(key.getCreationTime().toInstant().plusSeconds(valid))) {
        throw new IOException("verifying " + what + ": key " + fingerprint(ring.getPublicKey()) + " expired on "
            + key.getCreationTime().toInstant().plusSeconds(valid));
      }
      try {
        sig.init(new BcPGPContentVerifierBuilderProvider(), key);
        feed.into(sig);
        if (!sig.verify()) {
          throw new IOException("verifying " + what + ": bad signature by " + fingerprint(ring.getPublicKey())
              + " (the content was altered)");
        }
        good++;
      } catch (PGPException e) {
        throw new IOException("verifying " + what + ": cannot check the signature: " + e.getMessage(), e);
      }
    }
    if (good == 0) {
      throw new IOException("verifying " + what + ": " + (reasons.isEmpty() ? "no signature" : String.join("; ", reasons)));
    }
  }

  /** OpenPGP canonical text: trailing spaces and tabs stripped, lines joined with CR LF. */
  static byte[] canonicalText(byte[] data) {
    String s = new String(data, StandardCharsets.UTF_8);
    String[] lines = s.split("\r?\n", -1);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < lines.length; i++) {
      String l = lines[i].replaceAll("[ \t]+$", "");
      byte[] b = l.getBytes(StandardCharsets.UTF_8);
      out.write(b, 0, b.length);
      if (i < lines.length - 1) {
        out.write('\r');
        out.write('\n');
      }
    }
    return out.toByteArray();
  }
}
