package io.hypervisor.assembler.model;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** A content digest such as {@code sha256:ab12…}, validated against the OCI digest grammar. */
public record Digest(String algorithm, String encoded) implements Comparable<Digest> {
  private static final Pattern SHA256 = Pattern.compile("[a-f0-9]{64}");
  private static final Pattern SHA512 = Pattern.compile("[a-f0-9]{128}");

  public Digest {
    if (algorithm == null || encoded == null) {
      throw new IllegalArgumentException("digest needs an algorithm and an encoded value");
    }
    Pattern p = switch (algorithm) {
      case "sha256" -> SHA256;
      case "sha512" -> SHA512;
      default -> throw new IllegalArgumentException(
          "unsupported digest algorithm \"" + algorithm + "\" (supported: sha256, sha512)");
    };
    if (!p.matcher(encoded).matches()) {
      throw new IllegalArgumentException(
          "malformed " + algorithm + " digest \"" + encoded + "\": expected "
              + (algorithm.equals("sha256") ? 64 : 128) + " lower-case hex characters");
    }
  }

  /** Parses {@code algorithm:hex}. */
  public static Digest parse(String text) {
    int colon = text == null ? -1 : text.indexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("malformed digest \"" + text + "\": expected sha256:<hex>");
    }
    return new Digest(text.substring(0, colon), text.substring(colon + 1));
  }

  public static Digest sha256(byte[] data) {
    return new Digest("sha256", HexFormat.of().formatHex(messageDigest("sha256").digest(data)));
  }

  public static Digest ofSha256Hex(String hex) {
    return new Digest("sha256", hex);
  }

  /** A fresh {@link MessageDigest} for this digest's algorithm. */
  public MessageDigest newMessageDigest() {
    return messageDigest(algorithm);
  }

  /** The digest of what a {@link MessageDigest} of this algorithm computed. */
  public static Digest of(String algorithm, MessageDigest md) {
    return new Digest(algorithm, HexFormat.of().formatHex(md.digest()));
  }

  /** The digest of everything a stream holds (read to its end, not closed): large files without a buffer. */
  public static Digest of(String algorithm, java.io.InputStream in) throws java.io.IOException {
    MessageDigest md = messageDigest(algorithm);
    byte[] buf = new byte[1 << 20];
    for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
      md.update(buf, 0, n);
    }
    return of(algorithm, md);
  }

  public static MessageDigest messageDigest(String algorithm) {
    try {
      return MessageDigest.getInstance(switch (algorithm) {
        case "sha256" -> "SHA-256";
        case "sha512" -> "SHA-512";
        default -> throw new IllegalArgumentException("unsupported digest algorithm " + algorithm);
      });
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The first 12 hex characters, for messages. */
  public String shortHex() {
    return encoded.substring(0, 12);
  }

  @Override
  public int compareTo(Digest o) {
    return toString().compareTo(o.toString());
  }

  @Override
  public String toString() {
    return algorithm + ":" + encoded;
  }
}
