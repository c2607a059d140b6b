package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.pkgrepo.Signatures;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;

/**
 * Checks an .rpm file's OpenPGP signature as {@code rpmkeys --checksig} does: the lead, the
 * signature header, then the main header, which the header signature (RSAHEADER/DSAHEADER, what
 * rpmsign writes since rpm 4.x) covers byte for byte from its magic on; the payload is then bound
 * to that signed header by its PAYLOADDIGEST. Packages without a payload digest (built before
 * rpm 4.14) need the legacy header+payload signature instead.
 */
public final class RpmFile {
  private static final int LEAD = 96;
  private static final int LEAD_MAGIC = 0xEDABEEDB;
  private static final int HEADER_MAGIC = 0x8EADE801;
  static final int SIGTAG_DSA = 267;
  static final int SIGTAG_RSA = 268;
  static final int SIGTAG_PGP = 1002;
  static final int SIGTAG_GPG = 1005;
  static final int TAG_BUILDTIME = 1006;
  static final int TAG_PAYLOADDIGEST = 5092;
  static final int TAG_PAYLOADDIGESTALGO = 5093;
  private static final int PGPHASHALGO_SHA256 = 8;
  private static final int PGPHASHALGO_SHA512 = 10;

  private RpmFile() {}

  /** One header: its raw bytes (from the magic on) and its entries' data by tag. */
  record Header(byte[] raw, Map<Integer, byte[]> values, Map<Integer, Integer> types) {
    String string(int tag) {
      byte[] v = values.get(tag);
      if (v == null) {
        return null;
      }
      int end = 0;
      while (end < v.length && v[end] != 0) {
        end++;
      }
      return new String(v, 0, end, StandardCharsets.UTF_8);
    }

    Integer int32(int tag) {
      byte[] v = values.get(tag);
      return v == null || v.length < 4 ? null : ByteBuffer.wrap(v).getInt();
    }
  }

  /** Verifies the package's signature with {@code keys}; {@code what} names it in messages. */
  public static void verify(Path rpm, PGPPublicKeyRingCollection keys, String what) throws IOException {
    try (DataInputStream in = open(rpm)) {
      Header sig = signatureHeader(in, what);
      Header main = header(in, what + " header");
      byte[] headerSig = sig.values().getOrDefault(SIGTAG_RSA, sig.values().get(SIGTAG_DSA));
      String payloadDigest = main.string(TAG_PAYLOADDIGEST);
      if (headerSig != null && payloadDigest != null) {
        Signatures.verifyDetached(new ByteArrayInputStream(main.raw()), headerSig, keys, what + " (header signature)");
        Integer algo = main.int32(TAG_PAYLOADDIGESTALGO);
        String md = algo == null || algo == PGPHASHALGO_SHA256 ? "SHA-256" : algo == PGPHASHALGO_SHA512 ? "SHA-512" : null;
        if (md == null) {
          throw new IOException(what + ": unsupported payload digest algorithm " + algo);
        }
        String actual = digest(in, md);
        if (!actual.equalsIgnoreCase(payloadDigest)) {
          throw new IOException(what + ": the payload does not match the signed header's payload digest (got "
              + actual + ", signed " + payloadDigest + ")");
        }
        return;
      }
      byte[] legacy = sig.values().getOrDefault(SIGTAG_PGP, sig.values().get(SIGTAG_GPG));
      if (legacy == null) {
        throw new IOException(what + " is not signed (no OpenPGP signature in its signature header); "
            + "the assembler installs only signed packages from this repository");
      }
      InputStream headerThenPayload = new java.io.SequenceInputStream(new ByteArrayInputStream(main.raw()), in);
      Signatures.verifyDetached(headerThenPayload, legacy, keys, what + " (header+payload signature)");
    }
  }

  /**
   * The package's BUILDTIME (seconds since 1970; rpmbuild sets it from SOURCE_DATE_EPOCH where the
   * build has one, and no file of the payload is newer). Reads the headers only; checks nothing.
   */
  public static long buildTime(Path rpm, String what) throws IOException {
    try (DataInputStream in = open(rpm)) {
      signatureHeader(in, what);
      Integer t = header(in, what + " header").int32(TAG_BUILDTIME);
      if (t == null) {
        throw new IOException(what + " has no BUILDTIME in its header");
      }
      return Integer.toUnsignedLong(t);
    }
  }

  private static DataInputStream open(Path rpm) throws IOException {
    return new DataInputStream(new BufferedInputStream(Files.newInputStream(rpm), 1 << 16));
  }

  /** Checks the lead, reads the signature header and skips its padding: the main header comes next. */
  private static Header signatureHeader(DataInputStream in, String what) throws IOException {
    if (in.readInt() != LEAD_MAGIC) {
      throw new IOException(what + " is not an rpm package (bad lead magic)");
    }
    in.skipNBytes(LEAD - 4);
    Header sig = header(in, what + " signature header");
    in.skipNBytes((8 - (sig.raw().length % 8)) % 8);
    return sig;
  }

  private static String digest(InputStream in, String algorithm) throws IOException {
    try {
      MessageDigest md = MessageDigest.getInstance(algorithm);
      byte[] buf = new byte[1 << 16];
      for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reads one header structure: magic, index count, data length, index entries, data. */
  static Header header(DataInputStream in, String what) throws IOException {
    int magic = in.readInt();
    int reserved = in.readInt();
    if (magic != HEADER_MAGIC || reserved != 0) {
      throw new IOException(what + ": bad header magic");
    }
    int il = in.readInt();
    int dl = in.readInt();
    if (il < 0 || il > 0xFFFF || dl < 0 || dl > (256 << 20)) {
      throw new IOException(what + ": implausible header size (" + il + " entries, " + dl + " bytes)");
    }
    byte[] index = new byte[il * 16];
    in.readFully(index);
    byte[] data = new byte[dl];
    in.readFully(data);
    ByteBuffer raw = ByteBuffer.allocate(16 + index.length + dl);
    raw.putInt(magic).putInt(reserved).putInt(il).putInt(dl).put(index).put(data);
    Map<Integer, byte[]> values = new HashMap<>();
    Map<Integer, Integer> types = new HashMap<>();
    ByteBuffer ix = ByteBuffer.wrap(index);
    for (int i = 0; i < il; i++) {
      int tag = ix.getInt();
      int type = ix.getInt();
      int offset = ix.getInt();
      int count = ix.getInt();
      if (offset < 0 || offset > dl) {
        throw new IOException(what + ": entry " + tag + " points outside the header");
      }
      int len = switch (type) {
        case 7 -> count; // BIN
        case 4 -> 4 * count; // INT32
        case 6, 8, 9 -> dl - offset; // strings: up to their NULs; the reader stops at the first
        default -> 0;
      };
      if (offset + len > dl) {
        throw new IOException(what + ": entry " + tag + " overruns the header");
      }
      byte[] v = new byte[len];
      System.arraycopy(data, offset, v, 0, len);
      values.put(tag, v);
      types.put(tag, type);
    }
    return new Header(raw.array(), values, types);
  }
}
