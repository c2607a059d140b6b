package io.hypervisor.assembler.pkgrepo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.Date;
import org.bouncycastle.bcpg.ArmoredOutputStream;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.PublicKeyAlgorithmTags;
import org.bouncycastle.crypto.generators.RSAKeyPairGenerator;
import org.bouncycastle.crypto.params.RSAKeyGenerationParameters;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPKeyPair;
import org.bouncycastle.openpgp.PGPKeyRingGenerator;
import org.bouncycastle.openpgp.PGPSignature;
import org.bouncycastle.openpgp.operator.bc.BcPGPContentSignerBuilder;
import org.bouncycastle.openpgp.operator.bc.BcPGPDigestCalculatorProvider;
import org.bouncycastle.openpgp.operator.bc.BcPGPKeyPair;

/** A throw-away OpenPGP public key for unit tests (generated in memory; gpg is for the integration tests). */
public final class TestKeys {
  private TestKeys() {}

  /** An unprotected key pair: the armored secret key block and its armored public key block. */
  public record Pair(byte[] secret, byte[] publicKey) {}

  public static Pair keyPair(String uid) {
    try {
      PGPKeyRingGenerator rings = generator(uid);
      ByteArrayOutputStream sec = new ByteArrayOutputStream();
      try (ArmoredOutputStream a = new ArmoredOutputStream(sec)) {
        rings.generateSecretKeyRing().encode(a);
      }
      ByteArrayOutputStream pub = new ByteArrayOutputStream();
      try (ArmoredOutputStream a = new ArmoredOutputStream(pub)) {
        rings.generatePublicKeyRing().encode(a);
      }
      return new Pair(sec.toByteArray(), pub.toByteArray());
    } catch (PGPException | IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static PGPKeyRingGenerator generator(String uid) throws PGPException {
    RSAKeyPairGenerator gen = new RSAKeyPairGenerator();
    gen.init(new RSAKeyGenerationParameters(BigInteger.valueOf(0x10001), new SecureRandom(), 1024, 12));
    PGPKeyPair pair = new BcPGPKeyPair(PublicKeyAlgorithmTags.RSA_GENERAL, gen.generateKeyPair(), new Date());
    return new PGPKeyRingGenerator(PGPSignature.POSITIVE_CERTIFICATION, pair, uid,
        new BcPGPDigestCalculatorProvider().get(HashAlgorithmTags.SHA1), null, null,
        new BcPGPContentSignerBuilder(PublicKeyAlgorithmTags.RSA_GENERAL, HashAlgorithmTags.SHA256), null);
  }

  /** An armored public key block with one RSA primary key. */
  public static byte[] armoredPublicKey(String uid) {
    return keyPair(uid).publicKey();
  }
}
