package io.hypervisor.assembler.model;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * A lock named by a file, held by one thread of one process at a time: first a semaphore per
 * path shared by the whole JVM (a file lock belongs to the process, and a second lock on the same
 * file in one JVM throws instead of waiting), then the file's own lock against other processes,
 * which the system drops when a process dies, even by {@code kill -9}.
 */
public final class NamedLock implements AutoCloseable {
  /** The locks this process holds or waits for, by lock file. */
  private static final ConcurrentHashMap<Path, Semaphore> HELD = new ConcurrentHashMap<>();

  private final Semaphore held;
  private final FileChannel channel;
  private boolean closed;

  private NamedLock(Semaphore held, FileChannel channel) {
    this.held = held;
    this.channel = channel;
  }

  /**
   * Takes the lock of {@code file} (created when missing), waiting while another thread or process
   * holds it; {@code waiting} runs once, before the wait, when there is one.
   */
  public static NamedLock acquire(Path file, Runnable waiting) throws IOException {
    return take(file, waiting, true).orElseThrow();
  }

  /** The same without waiting: empty when another thread or process holds it. */
  public static Optional<NamedLock> tryAcquire(Path file) throws IOException {
    return take(file, () -> { }, false);
  }

  private static Optional<NamedLock> take(Path file, Runnable waiting, boolean wait) throws IOException {
    Semaphore held = HELD.computeIfAbsent(file.toAbsolutePath().normalize(), f -> new Semaphore(1));
    boolean told = false;
    if (!held.tryAcquire()) {
      if (!wait) {
        return Optional.empty();
      }
      waiting.run();
      told = true;
      try {
        held.acquire();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted waiting for the lock " + file);
      }
    }
    FileChannel ch = null;
    try {
      ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      if (ch.tryLock() == null) {
        if (!wait) {
          ch.close();
          held.release();
          return Optional.empty();
        }
        if (!told) {
          waiting.run();
        }
        ch.lock();
      }
      return Optional.of(new NamedLock(held, ch));
    } catch (IOException | RuntimeException e) {
      if (ch != null) {
        ch.close();
      }
      held.release();
      throw e;
    }
  }

  /**
   * Releases the lock. The file stays: deleting it while another process waits on it would let a
   * third lock a new file of that name beside the waiter (a caller may when that no longer matters).
   */
  @Override
  public synchronized void close() throws IOException {
    if (!closed) {
      closed = true;
      try {
        channel.close(); // releases the file lock
      } finally {
        held.release();
      }
    }
  }
}
