package io.hypervisor.assembler.oci.layout;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Digest;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.CompressorException;
import org.apache.commons.compress.compressors.CompressorStreamFactory;

/**
 * An image archive read in one pass, as containerd's importer does: every {@code blobs/<alg>/<hex>}
 * goes into the content store verified against its name; other large regular files (legacy
 * docker-save layers) go in under the digest of their content; small metadata (index.json,
 * manifest.json, configs) stays in memory; links are resolved at the end. Entries with absolute
 * paths, {@code ..} escaping the root, links pointing outside it, device files, FIFOs or sparse
 * entries (which declare sizes their data does not have) make the whole archive refused: nothing
 * from a hostile archive is used. A compressed archive may expand to at most
 * {@link io.hypervisor.assembler.content.ExpansionLimit#RATIO} times its size (and never beyond
 * {@link #MAX_EXPANDED}): a small gzip bomb
 * cannot fill the content store.
 */
public final class Archive {
  static final long SMALL = 16L << 20;
  /** The most a compressed archive may expand to, whatever its size (see ExpansionLimit for the ratio). */
  static final long MAX_EXPANDED = 256L << 30;
  private final Path file;
  private final Map<String, byte[]> small = new LinkedHashMap<>();
  private final Map<String, Digest> stored = new LinkedHashMap<>();
  private final Map<String, String> links = new LinkedHashMap<>();

  private Archive(Path file) {
    this.file = file;
  }

  public Path file() {
    return file;
  }

  /** Reads a tar (plain, gzip or xz compressed) into the store. */
  public static Archive spool(Path tar, ContentStore store) throws IOException {
    io.hypervisor.assembler.model.SmallFiles.requireRegular(tar, "image archive");
    Archive a = new Archive(tar);
    long compressed = Files.size(tar);
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(tar), 1 << 16);
        InputStream in = bounded(tar, decompress(raw), raw, compressed);
        TarArchiveInputStream t = new TarArchiveInputStream(in)) {
      for (TarArchiveEntry e = t.getNextEntry(); e != null; e = t.getNextEntry()) {
        String name = normalise(tar, e.getName());
        if (e.isDirectory() || name.isEmpty()) {
          continue;
        }
        if (e.isSymbolicLink() || e.isLink()) {
          String target = e.isLink() ? normalise(tar, e.getLinkName())
              : normalise(tar, parent(name) + e.getLinkName());
          a.links.put(name, target);
          continue;
        }
        if (!e.isFile() || e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
          throw refused(tar + ": entry " + e.getName() + " is a device or fifo; refusing the archive");
        }
        if (e.isSparse() || e.isGNUSparse() || e.isPaxGNUSparse() || e.isStarSparse()) {
          throw refused(tar + ": entry " + e.getName() + " is a sparse file; refusing the archive");
        }
        Digest named = blobName(name);
        if (named != null) {
          store.put(named, e.getSize(), t);
          a.stored.put(name, named);
        } else if (e.getSize() <= SMALL && (name.endsWith(".json") || !name.contains("/") || name.endsWith("/json")
            || name.endsWith("VERSION"))) {
          a.small.put(name, t.readAllBytes());
        } else {
          a.stored.put(name, store.putUnknown(t));
        }
      }
    } catch (io.hypervisor.assembler.content.DigestMismatchException e) {
      throw new io.hypervisor.assembler.content.DigestMismatchException(tar + ": " + e.getMessage(), e.expected(),
          e.actual());
    }
    return a;
  }

  /** The decompressed stream, cut off once it expands beyond what the archive's size allows. */
  private static InputStream bounded(Path tar, InputStream in, InputStream raw, long compressed) {
    if (in == raw) {
      return in; // not compressed: the file's own size bounds it
    }
    InputStream limited = io.hypervisor.assembler.content.ExpansionLimit.of(in, compressed, MAX_EXPANDED,
        tar.toString());
    return new java.io.FilterInputStream(limited) {
      @Override
      public int read(byte[] buf, int off, int len) throws IOException {
        try {
          return super.read(buf, off, len);
        } catch (IOException e) {
          if (e.getMessage() != null && e.getMessage().contains("decompression bomb")) {
            throw refused(e.getMessage() + " (" + compressed + " bytes compressed)");
          }
          throw e;
        }
      }
    };
  }

  private static InputStream decompress(InputStream raw) throws IOException {
    raw.mark(16);
    try {
      String kind = CompressorStreamFactory.detect(raw);
      return new CompressorStreamFactory().createCompressorInputStream(kind, raw);
    } catch (CompressorException e) {
      raw.reset();
      return raw;
    }
  }

  /** A hostile or broken archive the user gave: an input error (exit 2) naming it and why. */
  private static io.hypervisor.assembler.model.AssemblerException refused(String why) {
    return io.hypervisor.assembler.model.AssemblerException.input(why,
        "give an OCI layout, docker save or ctr export tarball; nothing from this one was used");
  }

  /** A blob path's digest ({@code blobs/sha256/<hex>}), or null for other files. */
  static Digest blobName(String name) {
    String[] p = name.split("/");
    if (p.length == 3 && p[0].equals("blobs")) {
      try {
        return new Digest(p[1], p[2]);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }
    return null;
  }

  private static String parent(String name) {
    int slash = name.lastIndexOf('/');
    return slash < 0 ? "" : name.substring(0, slash + 1);
  }

  /** A relative, normalised path inside the archive; throws for anything that escapes it. */
  static String normalise(Path tar, String raw) throws IOException {
    String n = raw.replace('\\', '/');
    if (n.startsWith("/")) {
      throw refused(tar + ": entry " + raw + " has an absolute path; refusing the archive");
    }
    java.util.ArrayDeque<String> parts = new java.util.ArrayDeque<>();
    for (String s : n.split("/")) {
      if (s.isEmpty() || s.equals(".")) {
        continue;
      }
      if (s.equals("..")) {
        if (parts.isEmpty()) {
          throw refused(tar + ": entry " + raw + " points outside the archive; refusing the archive");
        }
        parts.removeLast();
      } else {
        parts.addLast(s);
      }
    }
    return String.join("/", parts);
  }

  private String follow(String name) throws IOException {
    String n = name;
    for (int i = 0; i < 16 && links.containsKey(n); i++) {
      n = links.get(n);
    }
    return n;
  }

  /** A small file's bytes (after links), or null. */
  public byte[] small(String name) throws IOException {
    return small.get(follow(name));
  }

  /** The digest of a stored file's content (after links), or null. */
  public Digest stored(String name) throws IOException {
    return stored.get(follow(name));
  }

  public boolean has(String name) throws IOException {
    String n = follow(name);
    return small.containsKey(n) || stored.containsKey(n);
  }
}
