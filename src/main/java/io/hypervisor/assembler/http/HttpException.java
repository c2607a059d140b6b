package io.hypervisor.assembler.http;

import java.io.IOException;

/** An HTTP exchange failed for good (after retries): status, what was asked, and why. */
public final class HttpException extends IOException {
  private static final long serialVersionUID = 1L;
  private final int status;

  public HttpException(String message, int status, Throwable cause) {
    super(message, cause);
    this.status = status;
  }

  /** The last HTTP status, or -1 when the failure was not an HTTP answer (I/O, stall). */
  public int status() {
    return status;
  }
}
