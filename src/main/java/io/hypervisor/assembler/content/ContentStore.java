package io.hypervisor.assembler.content;

import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.NamedLock;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Blobs by digest under {@code <root>/blobs/<algorithm>/<hex>}. Blob files are only ever created
 * by renaming a verified {@link Ingest}, so a blob name always holds whole content; readers that
 * doubt the disk can still ask for verification on read. Builds hold a shared lease on the store
 * while they run; garbage collection needs the exclusive one.
 */
public final class ContentStore {
  /** A blob present in the store. */
  public record BlobInfo(Digest digest, long size, Instant modified) {}

  /** What a gc removed and kept. */
  public record GcResult(List<Digest> removed, long bytesFreed, int kept) {}

  private final Path root;
  private final Object leaseMonitor = new Object();
  private int leases;
  private FileChannel leaseChannel;
  private FileLock leaseLock;

  private ContentStore(Path root) {
    this.root = root;
  }

  /**
   * One instance per store directory in this JVM: file locks exclude processes, not threads of
   * one JVM (a second lock on the same file from this JVM throws), so the in-process exclusion
   * (ingests per digest, the lease count) must be shared by every build of a multi-recipe run.
   */
  private static final ConcurrentHashMap<Path, ContentStore> OPEN = new ConcurrentHashMap<>();

  /** Opens (creating if needed) a store rooted at {@code root}. */
  public static ContentStore open(Path root) throws IOException {
    Files.createDirectories(root.resolve("blobs/sha256"));
    Files.createDirectories(root.resolve("ingest"));
    Path real = root.toRealPath();
    return OPEN.computeIfAbsent(real, r -> new ContentStore(root));
  }

  public Path root() {
    return root;
  }

  public Path path(Digest d) {
    return root.resolve("blobs").resolve(d.algorithm()).resolve(d.encoded());
  }

  public boolean contains(Digest d) {
    return Files.isRegularFile(path(d), java.nio.file.LinkOption.NOFOLLOW_LINKS);
  }

  /** Size of a blob, or -1 when absent. */
  public long size(Digest d) {
    try {
      return Files.size(path(d));
    } catch (IOException e) {
      return -1;
    }
  }

  /**
   * Starts writing a blob, or returns null when the store already has it (checked after taking
   * the digest's lock, so a concurrent writer's finished blob counts). {@code size} -1 = unknown.
   */
  public Ingest ingest(Digest d, long size) throws IOException {
    Path partial = root.resolve("ingest").resolve(d.algorithm() + "-" + d.encoded() + ".partial");
    NamedLock lock = NamedLock.acquire(partial.resolveSibling(partial.getFileName() + ".lock"), () -> { });
    try {
      if (contains(d) && (size < 0 || size(d) == size)) {
        lock.close();
        return null;
      }
      return new Ingest(this, d, size, partial, lock);
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw e;
    }
  }

  /** Writes bytes whose digest is known, verifying them. */
  public void put(Digest expected, byte[] data) throws IOException {
    try (Ingest in = ingest(expected, data.length)) {
      if (in != null) {
        in.restart();
        in.write(ByteBuffer.wrap(data));
        in.commit();
      }
    }
  }

  /** Writes bytes under their own sha256 digest and returns it. */
  public Digest put(byte[] data) throws IOException {
    Digest d = Digest.sha256(data);
    put(d, data);
    return d;
  }

  /** Copies a stream of known digest and size into the store (verified), unless present. */
  public void put(Digest expected, long size, InputStream in) throws IOException {
    try (Ingest ingest = ingest(expected, size)) {
      if (ingest == null) {
        return;
      }
      ingest.restart();
      byte[] buf = new byte[1 << 16];
      for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
        ingest.write(buf, 0, n);
      }
      ingest.commit();
    }
  }

  /**
   * Writes a stream whose digest is not known in advance (e.g. a legacy docker-save layer):
   * hashed while written to a temporary file, then renamed to its sha256 name.
   */
  public Digest putUnknown(InputStream in) throws IOException {
    Path tmp = Files.createTempFile(root.resolve("ingest"), "unknown-", ".partial");
    try {
      MessageDigest md = Digest.messageDigest("sha256");
      try (var out = Files.newOutputStream(tmp)) {
        byte[] buf = new byte[1 << 16];
        for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
          md.update(buf, 0, n);
          out.write(buf, 0, n);
        }
      }
      Digest d = Digest.of("sha256", md);
      if (!contains(d)) {
        // as readable as every other blob (a temporary file is created 0600)
        try {
          Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
          // not a POSIX file system: its default applies
        }
        Files.createDirectories(path(d).getParent());
        Files.move(tmp, path(d), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      }
      return d;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Opens a blob for reading, without verification. Only a regular file is opened: a FIFO or
   * device put where a blob belongs would block or stream for ever (it counts as corrupt).
   */
  public InputStream open(Digest d) throws IOException {
    Path p = path(d);
    java.nio.file.attribute.BasicFileAttributes a;
    try {
      a = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class,
          java.nio.file.LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(p.toString(), null, "blob " + d + " is not in the content store");
    }
    if (!a.isRegularFile()) {
      throw new DigestMismatchException("blob " + d + " in the content store is not a regular file", d, null);
    }
    return Files.newInputStream(p);
  }

  /**
   * Opens a blob whose reader wants proof: the stream hashes what it returns and, at its end,
   * throws {@link DigestMismatchException} if size or digest differ (and removes the corrupt blob,
   * so the next fetch replaces it).
   */
  public InputStream openVerified(Digest d, long expectedSize) throws IOException {
    return new VerifyingStream(open(d), d, expectedSize);
  }

  public byte[] read(Digest d) throws IOException {
    try (InputStream in = openVerified(d, -1)) {
      return in.readAllBytes();
    }
  }

  /** Re-hashes a blob; false (and the blob removed) when it is corrupt or not a regular file. */
  public boolean verify(Digest d) throws IOException {
    try (InputStream in = openVerified(d, -1)) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return true;
    } catch (DigestMismatchException e) {
      Files.deleteIfExists(path(d));
      return false;
    }
  }

  /**
   * The same blob under its digest in another algorithm, added as a hard link (no extra space; a
   * copy where links are refused). A bundle lists every file by sha256 while a base image may be
   * pinned by sha512, so both names must reach the one file.
   */
  public Digest alias(Digest d, String algorithm) throws IOException {
    if (d.algorithm().equals(algorithm)) {
      return d;
    }
    Digest other;
    try (InputStream in = open(d)) {
      other = Digest.of(algorithm, in);
    }
    Path target = path(other);
    if (!Files.isRegularFile(target)) {
      Files.createDirectories(target.getParent());
      Path tmp = target.resolveSibling("." + other.encoded() + "." + ProcessHandle.current().pid() + ".link");
      Files.deleteIfExists(tmp);
      try {
        Files.createLink(tmp, path(d));
      } catch (IOException | UnsupportedOperationException e) {
        Files.copy(path(d), tmp);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
    return other;
  }

  public void delete(Digest d) throws IOException {
    Files.deleteIfExists(path(d));
  }

  /** Every blob in the store, sorted by digest. */
  public List<BlobInfo> list() throws IOException {
    List<BlobInfo> out = new ArrayList<>();
    Path blobs = root.resolve("blobs");
    try (Stream<Path> algs = Files.list(blobs)) {
      for (Path alg : algs.sorted().toList()) {
        try (Stream<Path> files = Files.list(alg)) {
          for (Path f : files.sorted().toList()) {
            Digest d;
            try {
              d = new Digest(alg.getFileName().toString(), f.getFileName().toString());
            } catch (IllegalArgumentException e) {
              continue; // not a blob name (a stray file): ignore
            }
            out.add(new BlobInfo(d, Files.size(f), Files.getLastModifiedTime(f).toInstant()));
          }
        }
      }
    }
    return out;
  }

  /** Marks a blob as used now (gc's age rule keeps recently used blobs). */
  public void touch(Digest d) throws IOException {
    if (contains(d)) {
      Files.setLastModifiedTime(path(d), FileTime.from(Instant.now()));
    }
  }

  /** Work done under the store's exclusive lock. */
  @FunctionalInterface
  public interface Exclusive<T> {
    T run() throws IOException;
  }

  /**
   * Runs {@code body} holding the store's exclusive lock: fails while a build (in this or another
   * process) holds a lease. gc of the blobs and of whatever lives beside them runs so.
   */
  public <T> T exclusive(Exclusive<T> body) throws IOException {
    synchronized (leaseMonitor) {
      if (leases > 0) {
        throw new IOException("the content store " + root + " is in use by a running build; run gc when it ends");
      }
    }
    try (FileChannel ch = FileChannel.open(root.resolve(".lock"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE); FileLock lock = ch.tryLock()) {
      if (lock == null) {
        throw new IOException("the content store " + root + " is in use by a running build; run gc when it ends");
      }
      return body.run();
    }
  }

  /**
   * Removes every blob not in {@code keep} and older than {@code keepYoungerThan} (null: no age
   * rule), plus abandoned partial files. Needs the exclusive lock: fails while a build runs.
   */
  public GcResult gc(Set<Digest> keep, Duration keepYoungerThan) throws IOException {
    return exclusive(() -> gcHeld(keep, keepYoungerThan));
  }

  /** {@link #gc} for a caller already inside {@link #exclusive}. */
  public GcResult gcHeld(Set<Digest> keep, Duration keepYoungerThan) throws IOException {
    Instant cutoff = keepYoungerThan == null ? null : Instant.now().minus(keepYoungerThan);
    List<Digest> removed = new ArrayList<>();
    long freed = 0;
    int kept = 0;
    for (BlobInfo b : list()) {
      if (keep.contains(b.digest()) || (cutoff != null && b.modified().isAfter(cutoff))) {
        kept++;
        continue;
      }
      Files.deleteIfExists(path(b.digest()));
      removed.add(b.digest());
      freed += b.size();
    }
    try (Stream<Path> partials = Files.list(root.resolve("ingest"))) {
      for (Path p : partials.toList()) {
        if (cutoff == null || Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
          freed += Files.size(p);
          Files.deleteIfExists(p);
        }
      }
    }
    return new GcResult(removed, freed, kept);
  }

  /**
   * A shared lease for the duration of a build: gc cannot run while any is held (in this or
   * another process).
   */
  public AutoCloseable lease() throws IOException {
    synchronized (leaseMonitor) {
      if (leases++ == 0) {
        leaseChannel = FileChannel.open(root.resolve(".lock"), StandardOpenOption.CREATE,
            StandardOpenOption.WRITE, StandardOpenOption.READ);
        leaseLock = leaseChannel.lock(0, Long.MAX_VALUE, true);
      }
    }
    return () -> {
      synchronized (leaseMonitor) {
        if (--leases == 0) {
          leaseLock.release();
          leaseChannel.close();
        }
      }
    };
  }

  /** Hashes while reading; complains at the end if the content is not what its name says. */
  private final class VerifyingStream extends FilterInputStream {
    private final Digest expected;
    private final long expectedSize;
    private final MessageDigest md;
    private long count;
    private boolean checked;

    VerifyingStream(InputStream in, Digest expected, long expectedSize) {
      super(in);
      this.expected = expected;
      this.expectedSize = expectedSize;
      this.md = expected.newMessageDigest();
    }

    @Override
    public int read() throws IOException {
      byte[] b = new byte[1];
      return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        md.update(b, off, n);
        count += n;
      } else if (n < 0) {
        check();
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      throw new IOException("a verifying stream cannot skip");
    }

    private void check() throws IOException {
      if (checked) {
        return;
      }
      checked = true;
      Digest actual = Digest.of(expected.algorithm(), md);
      if (!actual.equals(expected) || (expectedSize >= 0 && count != expectedSize)) {
        super.close();
        Files.deleteIfExists(path(expected));
        throw new DigestMismatchException("content store blob " + expected + " is corrupt (read " + count
            + " bytes hashing to " + actual + "); removed it, fetch it again", expected, actual);
      }
    }
  }
}
