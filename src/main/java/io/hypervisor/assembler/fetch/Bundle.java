package io.hypervisor.assembler.fetch;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * The air-gap bundle's container format: one uncompressed tar whose first entry is
 * {@code bundle.json} (every other file with its kind, name, sha256 and size), optionally followed
 * by {@code bundle.json.asc} (a detached OpenPGP signature over it, which covers everything through
 * the hashes), then the small files and every blob under {@code blobs/sha256/<hex>}, streamed from
 * the content store. Reading is one streaming pass: each blob goes into the content store under the
 * digest the manifest names (verified while it streams), and every missing, unlisted or bad item is
 * collected, not thrown at the first, so the caller can refuse the bundle with the whole list.
 */
public final class Bundle {
  public static final int FORMAT = 1;
  public static final String MANIFEST = "bundle.json";
  public static final String SIGNATURE = "bundle.json.asc";

  /** One file of the bundle: where, what (lock, package, image-blob, key, base, layout), for whom, digest, size. */
  public record Item(String path, String kind, String name, String sha256, long size) {}

  /** bundle.json. */
  public record Manifest(int format, String name, List<Item> items) {
    public Manifest {
      items = List.copyOf(items);
    }
  }

  /** A small file written from memory (lock, index.json …). */
  public record SmallFile(Item item, byte[] data) {}

  /** What a read found: the manifest, the small files' bytes, whether a signature was there, and every problem. */
  public record Contents(Manifest manifest, Map<String, byte[]> files, boolean signed, List<String> problems) {
    public boolean ok() {
      return problems.isEmpty();
    }
  }

  /** Where a read puts blobs: the content store, or nowhere (only checked, for bundle verify). */
  public interface BlobSink {
    boolean has(Digest d, long size) throws IOException;

    /** Consumes the stream; throws when its digest or size is not the expected one. */
    void put(Digest d, long size, InputStream in) throws IOException;

    static BlobSink of(ContentStore store) {
      return new BlobSink() {
        @Override
        public boolean has(Digest d, long size) {
          return store.contains(d) && store.size(d) == size;
        }

        @Override
        public void put(Digest d, long size, InputStream in) throws IOException {
          store.put(d, size, in);
        }
      };
    }

    /** Hashes and counts, keeps nothing. */
    static BlobSink checking() {
      return new BlobSink() {
        @Override
        public boolean has(Digest d, long size) {
          return false;
        }

        @Override
        public void put(Digest d, long size, InputStream in) throws IOException {
          java.security.MessageDigest md = d.newMessageDigest();
          byte[] buf = new byte[1 << 16];
          long n = 0;
          for (int r = in.read(buf); r >= 0; r = in.read(buf)) {
            md.update(buf, 0, r);
            n += r;
          }
          String got = java.util.HexFormat.of().formatHex(md.digest());
          if (n != size || !got.equals(d.encoded())) {
            throw new IOException("content has " + n + " bytes and sha256:" + got + ", expected " + size + " bytes and "
                + d);
          }
        }
      };
    }
  }

  /** Checks a signature over the manifest bytes; throws when it is not good. */
  @FunctionalInterface
  public interface SignatureCheck {
    void verify(byte[] manifest, byte[] signature) throws IOException;
  }

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private static final long MTIME = 0;

  private Bundle() {}

  /** An item for a blob of the content store. */
  public static Item blob(String kind, String name, Digest digest, long size) {
    return new Item("blobs/sha256/" + digest.encoded(), kind, name, digest.encoded(), size);
  }

  /** An item for a small file with its bytes. */
  public static SmallFile small(String path, String kind, byte[] data) {
    return new SmallFile(new Item(path, kind, path, Digest.sha256(data).encoded(), data.length), data);
  }

  public static byte[] manifestJson(Manifest m) throws IOException {
    return JSON.writeValueAsBytes(m);
  }

  /**
   * Writes the bundle: manifest, signature (when {@code signature} is not null; it must be over
   * exactly {@link #manifestJson}), small files, then blobs in order, each once.
   */
  public static void write(WritableByteChannel out, ContentStore store, Manifest m, byte[] signature,
      List<SmallFile> small) throws IOException {
    TarWriter tar = new TarWriter(out, store, MTIME);
    tar.file(MANIFEST, 0644, manifestJson(m));
    if (signature != null) {
      tar.file(SIGNATURE, 0644, signature);
    }
    Map<String, SmallFile> smallByPath = new LinkedHashMap<>();
    small.forEach(f -> smallByPath.put(f.item().path(), f));
    java.util.Set<String> written = new java.util.HashSet<>();
    for (Item i : m.items()) {
      if (!written.add(i.path())) {
        continue;
      }
      SmallFile f = smallByPath.get(i.path());
      if (f != null) {
        tar.file(i.path(), 0644, f.data());
        continue;
      }
      Digest d = Digest.ofSha256Hex(i.sha256());
      if (store.size(d) != i.size()) {
        throw new IOException(i.kind() + " " + i.name() + " (" + d + ") is not in the content store with " + i.size()
            + " bytes");
      }
      tar.blob(i.path(), 0644, d);
    }
    tar.finish();
  }

  /**
   * Reads a bundle in one pass: blobs into {@code store} under their listed digests, small files
   * into memory (at most 16 MiB each). {@code check} null means a signature is not required (one
   * present is then reported but not trusted).
   */
  public static Contents read(InputStream in, ContentStore store, SignatureCheck check) throws IOException {
    return read(in, BlobSink.of(store), check);
  }

  /** Reads a bundle in one pass into any sink (see {@link #read(InputStream, ContentStore, SignatureCheck)}). */
  public static Contents read(InputStream in, BlobSink store, SignatureCheck check) throws IOException {
    List<String> problems = new ArrayList<>();
    Map<String, byte[]> files = new LinkedHashMap<>();
    Map<String, Item> listed = new LinkedHashMap<>();
    Manifest m;
    boolean signed = false;
    try (TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      TarArchiveEntry e = next(tar);
      if (e == null || !e.getName().equals(MANIFEST)) {
        throw new IOException("not an assemble bundle: the first entry is " + (e == null ? "missing" : "another file")
            + ", not " + MANIFEST);
      }
      byte[] manifestBytes = readEntry(tar, e, MAX_MANIFEST);
      try {
        m = JSON.readValue(manifestBytes, Manifest.class);
      } catch (IOException | RuntimeException bad) {
        throw new IOException(MANIFEST + " is not a bundle manifest (JSON with format, name and items)");
      }
      if (m == null || m.format() != FORMAT) {
        throw new IOException("bundle format " + (m == null ? "missing" : m.format()) + " is not supported (this "
            + "assembler reads " + FORMAT + ")");
      }
      List<String> malformed = malformed(m);
      if (!malformed.isEmpty()) {
        throw new IOException(MANIFEST + " is malformed: " + String.join("; ", malformed.subList(0,
            Math.min(5, malformed.size()))) + (malformed.size() > 5 ? " and " + (malformed.size() - 5) + " more" : ""));
      }
      m.items().forEach(i -> listed.putIfAbsent(i.path(), i));
      e = next(tar);
      if (e != null && e.getName().equals(SIGNATURE)) {
        signed = true;
        byte[] sig = readEntry(tar, e, MAX_SIGNATURE);
        if (check != null) {
          try {
            check.verify(manifestBytes, sig);
          } catch (IOException bad) {
            problems.add("signature: " + bad.getMessage());
          }
        }
        e = next(tar);
      } else if (check != null) {
        problems.add("signature: the bundle is not signed, and a trusted key was given");
      }
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (; e != null; e = next(tar)) {
        Item i = listed.get(e.getName());
        if (i == null) {
          problems.add("unlisted file " + e.getName() + " (not in " + MANIFEST + ")");
          continue;
        }
        if (!seen.add(i.path())) {
          continue;
        }
        if (!problems.isEmpty() && problems.get(0).startsWith("signature:")) {
          continue; // nothing from an untrusted bundle enters the content store
        }
        // Only plain entries of exactly the listed size are read: a sparse or special entry, or
        // one claiming another size, could make the read block, balloon or write elsewhere.
        if (!plain(e) || e.getSize() != i.size()) {
          problems.add("bad " + i.kind() + " " + i.name() + " (" + i.path() + "): the entry is "
              + (plain(e) ? e.getSize() + " bytes, the manifest says " + i.size() : "not a plain file"));
          continue;
        }
        if (!i.path().startsWith("blobs/")) {
          byte[] data = readEntry(tar, e, MAX_SMALL);
          if (!Digest.sha256(data).encoded().equals(i.sha256()) || data.length != i.size()) {
            problems.add("bad " + i.kind() + " " + i.name() + ": its content does not match " + MANIFEST);
          } else {
            files.put(i.path(), data);
          }
          continue;
        }
        Digest d = Digest.ofSha256Hex(i.sha256());
        try {
          if (store.has(d, i.size())) {
            tar.transferTo(java.io.OutputStream.nullOutputStream());
          } else {
            store.put(d, i.size(), tar);
          }
        } catch (IOException bad) {
          problems.add("bad " + i.kind() + " " + i.name() + " (" + i.path() + "): " + bad.getMessage());
        }
      }
      for (Item i : listed.values()) {
        if (!seen.contains(i.path()) && (problems.isEmpty() || !problems.get(0).startsWith("signature:"))) {
          problems.add("missing " + i.kind() + " " + i.name() + " (" + i.path() + ")");
        }
      }
    }
    return new Contents(m, files, signed, problems);
  }

  private static TarArchiveEntry next(TarArchiveInputStream tar) throws IOException {
    for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
      if (!e.isDirectory()) {
        return e;
      }
    }
    return null;
  }

  /** A regular file entry, not sparse (sparse entries declare sizes their data does not have). */
  private static boolean plain(TarArchiveEntry e) {
    return e.isFile() && !e.isLink() && !e.isSymbolicLink() && !e.isSparse() && !e.isGNUSparse()
        && !e.isPaxGNUSparse() && !e.isStarSparse() && e.getSize() >= 0;
  }

  /** A small entry read into memory, at most {@code max} bytes, refused before reading when it claims more. */
  private static byte[] readEntry(TarArchiveInputStream tar, TarArchiveEntry e, long max) throws IOException {
    if (!plain(e)) {
      throw new IOException(e.getName() + " is not a plain file in the bundle");
    }
    if (e.getSize() > max) {
      throw new IOException(e.getName() + " claims " + e.getSize() + " bytes; at most " + max + " are accepted");
    }
    byte[] b = tar.readNBytes((int) max + 1);
    if (b.length > max) {
      throw new IOException(e.getName() + " holds more than " + max + " bytes");
    }
    return b;
  }

  /** Largest bundle.json (a line per file: a bundle of tens of thousands of files fits), signature, small file. */
  static final long MAX_MANIFEST = 64 << 20;
  static final long MAX_SIGNATURE = 1 << 20;
  static final long MAX_SMALL = 16 << 20;
  private static final java.util.regex.Pattern HEX = java.util.regex.Pattern.compile("[0-9a-f]{64}");
  /** A small file's path: one plain name (lock.json, oci-layout, index.json), never a path that leaves the bundle. */
  private static final java.util.regex.Pattern SMALL_PATH = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  /** The bundle's name: a recipe's image name, used in file names at the site. */
  public static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  /** Everything wrong with a manifest's fields, as a reader would trip over them later (nulls, non-hex digests, paths). */
  static List<String> malformed(Manifest m) {
    List<String> out = new ArrayList<>();
    if (m.name() == null || !NAME.matcher(m.name()).matches()) {
      out.add("name must be a plain image name (letters, digits, . _ -)");
    }
    if (m.items() == null) {
      out.add("items are missing");
      return out;
    }
    for (int n = 0; n < m.items().size(); n++) {
      Item i = m.items().get(n);
      String at = "items[" + n + "]";
      if (i == null || i.path() == null || i.kind() == null || i.name() == null || i.sha256() == null) {
        out.add(at + ": path, kind, name and sha256 are required");
        continue;
      }
      if (!HEX.matcher(i.sha256()).matches()) {
        out.add(at + ": sha256 is not 64 lower-case hex digits");
      } else if (i.path().startsWith("blobs/") ? !i.path().equals("blobs/sha256/" + i.sha256())
          : !SMALL_PATH.matcher(i.path()).matches()) {
        out.add(at + ": path must be blobs/sha256/<its sha256> or a plain file name");
      }
      if (i.size() < 0 || i.size() > (1L << 40) || !i.path().startsWith("blobs/") && i.size() > MAX_SMALL) {
        out.add(at + ": size " + i.size() + " is out of range");
      }
    }
    return out;
  }

  /** The manifest as text, for {@code bundle ls}. */
  public static String describe(Manifest m) {
    StringBuilder s = new StringBuilder();
    for (Item i : m.items()) {
      s.append(String.format("%-10s %12d  %s  %s%n", i.kind(), i.size(), i.sha256().substring(0, 12), i.name()));
    }
    return s.toString().getBytes(StandardCharsets.UTF_8).length == 0 ? "" : s.toString();
  }
}
