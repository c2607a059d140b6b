package io.hypervisor.assembler.content;

import io.hypervisor.assembler.model.Digest;
import java.io.IOException;

/** Content did not hash to (or was not the size of) what its descriptor promised. */
public final class DigestMismatchException extends IOException {
  private static final long serialVersionUID = 1L;
  private final Digest expected;
  private final Digest actual;

  public DigestMismatchException(String message, Digest expected, Digest actual) {
    super(message);
    this.expected = expected;
    this.actual = actual;
  }

  public Digest expected() {
    return expected;
  }

  /** What the content hashed to, or null for a size mismatch. */
  public Digest actual() {
    return actual;
  }
}
