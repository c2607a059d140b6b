package io.hypervisor.assembler.content;

import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.NamedLock;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;

/**
 * One blob being written into the store: bytes go to {@code ingest/<hex>.partial} while they are
 * hashed and counted; {@link #commit()} checks size and digest and only then renames the file to
 * its blob name. A partial file left by an interrupted run is re-hashed and continued from its
 * length ({@link #offset()}), which is how downloads resume with HTTP Range. Holds an exclusive
 * lock on the digest for its lifetime, so two builds never write the same partial file.
 */
public final class Ingest implements AutoCloseable {
  private final ContentStore store;
  private final Digest expected;
  private final long expectedSize;
  private final Path partial;
  private final NamedLock lock;
  private FileChannel channel;
  private MessageDigest md;
  private long written;
  private boolean done;

  Ingest(ContentStore store, Digest expected, long expectedSize, Path partial, NamedLock lock)
      throws IOException {
    this.store = store;
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.partial = partial;
    this.lock = lock;
    open();
  }

  private void open() throws IOException {
    md = expected.newMessageDigest();
    channel = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.READ);
    long existing = channel.size();
    if (expectedSize >= 0 && existing > expectedSize) {
      // Longer than the blob can be: not ours to continue.
      channel.truncate(0);
      existing = 0;
    }
    // Re-hash what an earlier run left, so the final digest covers every byte.
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    long pos = 0;
    while (pos < existing) {
      buf.clear();
      int n = channel.read(buf, pos);
      if (n < 0) {
        break;
      }
      buf.flip();
      md.update(buf);
      pos += n;
    }
    written = pos;
    channel.position(written);
  }

  public Digest expected() {
    return expected;
  }

  /** -1 when unknown. */
  public long expectedSize() {
    return expectedSize;
  }

  /** Bytes already in the partial file: where a resumed download must continue. */
  public long offset() {
    return written;
  }

  /** Appends bytes; fails as soon as more arrive than the expected size. */
  public void write(ByteBuffer src) throws IOException {
    int n = src.remaining();
    if (expectedSize >= 0 && written + n > expectedSize) {
      throw new DigestMismatchException("receiving " + expected + ": more than the expected "
          + expectedSize + " bytes", expected, null);
    }
    ByteBuffer dup = src.duplicate();
    while (src.hasRemaining()) {
      channel.write(src);
    }
    md.update(dup);
    written += n;
  }

  public void write(byte[] b, int off, int len) throws IOException {
    write(ByteBuffer.wrap(b, off, len));
  }

  /** Drops everything written so far (a server ignored Range and sent the whole blob again). */
  public void restart() throws IOException {
    channel.truncate(0);
    channel.position(0);
    md = expected.newMessageDigest();
    written = 0;
  }

  /** An OutputStream view, for writers that want one. */
  public OutputStream outputStream() {
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        Ingest.this.write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        Ingest.this.write(b, off, len);
      }
    };
  }

  /**
   * Verifies size and digest and moves the blob into place. On mismatch the partial file is
   * deleted (it can never become the right blob) and {@link DigestMismatchException} is thrown.
   */
  public Path commit() throws IOException {
    return commit(null);
  }

  /** A last check of a blob whose digest is right but whose content must also pass a format rule (a signature). */
  @FunctionalInterface
  public interface Check {
    void check(Path blob) throws IOException;
  }

  /**
   * As {@link #commit()}, then runs {@code check} on the verified bytes before they enter the
   * store; if it throws, the partial file is deleted and nothing is stored.
   */
  public Path commit(Check check) throws IOException {
    channel.force(false);
    channel.close();
    Digest actual = Digest.of(expected.algorithm(), md);
    if (expectedSize >= 0 && written != expectedSize) {
      Files.deleteIfExists(partial);
      done = true;
      throw new DigestMismatchException("receiving " + expected + ": got " + written + " bytes, expected "
          + expectedSize, expected, null);
    }
    if (!actual.equals(expected)) {
      Files.deleteIfExists(partial);
      done = true;
      throw new DigestMismatchException("receiving " + expected + ": digest mismatch (got " + actual + ")",
          expected, actual);
    }
    if (check != null) {
      try {
        check.check(partial);
      } catch (IOException | RuntimeException e) {
        Files.deleteIfExists(partial);
        done = true;
        throw e;
      }
    }
    Path target = store.path(expected);
    Files.createDirectories(target.getParent());
    try {
      Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING);
    }
    done = true;
    return target;
  }

  /** Releases the lock; an uncommitted partial file stays for the next run to resume. */
  @Override
  public void close() throws IOException {
    try {
      if (channel.isOpen()) {
        channel.close();
      }
    } finally {
      lock.close();
      if (done) {
        Files.deleteIfExists(partial.resolveSibling(partial.getFileName() + ".lock"));
      }
    }
  }
}
