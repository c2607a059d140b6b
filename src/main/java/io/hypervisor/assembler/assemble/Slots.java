package io.hypervisor.assembler.assemble;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.Semaphore;

/**
 * The appliance slots of a run that builds several recipes: a build holds one while it works and
 * gives it back while it waits for another build's step cache claim (the same layer, or the same
 * base's facts), so a recipe of another key runs meanwhile instead of queueing behind a build
 * that does nothing.
 */
public final class Slots {
  /** One build alone: nothing to share. */
  public static final Slots NONE = new Slots(null);

  private final Semaphore free;

  private Slots(Semaphore free) {
    this.free = free;
  }

  /** {@code n} slots, handed out in the order builds ask for them. */
  public static Slots of(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("slots: " + n);
    }
    return new Slots(new Semaphore(n, true));
  }

  /** Takes a slot, waiting for one. */
  public void take() throws InterruptedIOException {
    if (free != null) {
      try {
        free.acquire();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted waiting for an appliance slot");
      }
    }
  }

  /** Gives a slot back. */
  public void give() {
    if (free != null) {
      free.release();
    }
  }

  /** Slots free now (for tests and messages). */
  int available() {
    return free == null ? 0 : free.availablePermits();
  }

  /** A claim that may block: it calls the {@link Runnable} it is given just before it does. */
  @FunctionalInterface
  interface Claiming<T> {
    T claim(Runnable blocking) throws IOException;
  }

  /**
   * Runs {@code claim} holding this build's slot, except while it blocks: the slot goes back when
   * the claim says it will wait and is taken again (waiting for one, if others took them) once the
   * claim returns or fails.
   */
  <T> T aside(Claiming<T> claim) throws IOException {
    boolean[] away = {false};
    try {
      return claim.claim(() -> {
        if (!away[0]) {
          away[0] = true;
          give();
        }
      });
    } finally {
      if (away[0] && free != null) {
        free.acquireUninterruptibly(); // the build goes on (or unwinds) holding its slot, as its caller expects
      }
    }
  }
}
