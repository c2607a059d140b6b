package io.hypervisor.assembler.provenance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/**
 * DSSE (secure-systems-lab/dsse): an envelope of a payload and its signatures, each over
 * {@code PAE = "DSSEv1 " len(type) " " type " " len(body) " " body}. Signed with ECDSA P-256 and
 * SHA-256 in ASN.1 DER, as cosign verifies; keys as PEM (PKCS#8 private, SubjectPublicKeyInfo public),
 * the way {@code openssl} and {@code cosign generate-key-pair} write them unencrypted.
 */
final class Dsse {
  static final String IN_TOTO = "application/vnd.in-toto+json";

  private Dsse() {}

  static byte[] pae(String type, byte[] body) {
    byte[] t = type.getBytes(StandardCharsets.UTF_8);
    byte[] head = ("DSSEv1 " + t.length + " " + type + " " + body.length + " ").getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[head.length + body.length];
    System.arraycopy(head, 0, out, 0, head.length);
    System.arraycopy(body, 0, out, head.length, body.length);
    return out;
  }

  /** The envelope, signed when {@code key} is given (an empty signature list otherwise). */
  static ObjectNode envelope(byte[] payload, PrivateKey key, PublicKey pub) throws GeneralSecurityException {
    ObjectNode env = Json.object();
    env.put("payloadType", IN_TOTO);
    env.put("payload", Base64.getEncoder().encodeToString(payload));
    var sigs = env.putArray("signatures");
    if (key != null) {
      Signature s = Signature.getInstance("SHA256withECDSA");
      s.initSign(key);
      s.update(pae(IN_TOTO, payload));
      var sig = sigs.addObject();
      sig.put("keyid", pub == null ? "" : keyId(pub));
      sig.put("sig", Base64.getEncoder().encodeToString(s.sign()));
    }
    return env;
  }

  /** The payload of an envelope whose signature {@code pub} made; throws when there is none. */
  static byte[] verify(JsonNode env, PublicKey pub) throws IOException {
    if (!IN_TOTO.equals(env.path("payloadType").asText())) {
      throw new IOException("payloadType is " + env.path("payloadType").asText() + ", not " + IN_TOTO);
    }
    byte[] payload;
    try {
      payload = Base64.getDecoder().decode(env.path("payload").asText());
    } catch (IllegalArgumentException e) {
      throw new IOException("the payload is not base64");
    }
    if (env.path("signatures").isEmpty()) {
      throw new IOException("the envelope is not signed");
    }
    for (JsonNode sig : env.path("signatures")) {
      try {
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initVerify(pub);
        s.update(pae(IN_TOTO, payload));
        if (s.verify(Base64.getDecoder().decode(sig.path("sig").asText()))) {
          return payload;
        }
      } catch (GeneralSecurityException | IllegalArgumentException e) {
        // try the next signature
      }
    }
    throw new IOException("no signature in the envelope verifies with the given public key");
  }

  /** A key's id: the sha256 of its SubjectPublicKeyInfo. */
  static String keyId(PublicKey pub) {
    return Digest.sha256(pub.getEncoded()).encoded();
  }

  /** An unencrypted PKCS#8 EC P-256 private key in PEM. */
  static PrivateKey privateKey(String pem) throws GeneralSecurityException {
    if (!pem.contains("-----BEGIN PRIVATE KEY-----")) {
      throw new GeneralSecurityException(pem.contains("ENCRYPTED") ? "the key is encrypted; give it unencrypted "
          + "(openssl pkcs8 -topk8 -nocrypt)" : pem.contains("BEGIN EC PRIVATE KEY")
          ? "the key is in SEC1 form; convert it: openssl pkcs8 -topk8 -nocrypt -in KEY" : "expected a PEM PKCS#8 key "
          + "(-----BEGIN PRIVATE KEY-----)");
    }
    PrivateKey k = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der(pem, "PRIVATE KEY")));
    if (!(k instanceof ECPrivateKey ec) || ec.getParams().getCurve().getField().getFieldSize() != 256) {
      throw new GeneralSecurityException("expected an ECDSA P-256 key");
    }
    return k;
  }

  /** A PEM public key (SubjectPublicKeyInfo), as cosign and openssl write it. */
  static PublicKey publicKey(String pem) throws GeneralSecurityException {
    if (!pem.contains("-----BEGIN PUBLIC KEY-----")) {
      throw new GeneralSecurityException("expected a PEM public key (-----BEGIN PUBLIC KEY-----)");
    }
    PublicKey k = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der(pem, "PUBLIC KEY")));
    if (!(k instanceof ECPublicKey)) {
      throw new GeneralSecurityException("expected an ECDSA public key");
    }
    return k;
  }

  /** The public half of a private key (EC: computed from the curve). */
  static PublicKey publicOf(PrivateKey key) throws GeneralSecurityException {
    ECPrivateKey ec = (ECPrivateKey) key;
    java.security.spec.ECParameterSpec spec = ec.getParams();
    java.math.BigInteger d = ec.getS();
    org.bouncycastle.jce.spec.ECParameterSpec bc = org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util
        .convertSpec(spec);
    org.bouncycastle.math.ec.ECPoint q = bc.getG().multiply(d).normalize();
    java.security.spec.ECPoint w = new java.security.spec.ECPoint(q.getAffineXCoord().toBigInteger(),
        q.getAffineYCoord().toBigInteger());
    return KeyFactory.getInstance("EC").generatePublic(new java.security.spec.ECPublicKeySpec(w, spec));
  }

  private static byte[] der(String pem, String label) throws GeneralSecurityException {
    int a = pem.indexOf("-----BEGIN " + label + "-----");
    int b = pem.indexOf("-----END " + label + "-----");
    if (a < 0 || b < a) {
      throw new GeneralSecurityException("no " + label + " block");
    }
    String body = pem.substring(a + ("-----BEGIN " + label + "-----").length(), b).replaceAll("\\s", "");
    try {
      return Base64.getDecoder().decode(body);
    } catch (IllegalArgumentException e) {
      throw new GeneralSecurityException("the " + label + " block is not base64");
    }
  }
}
