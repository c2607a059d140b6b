package io.hypervisor.assembler.oci;

import java.io.IOException;

/** An image cannot be used as asked: wrong platform, schema 1, inconsistent manifest … */
public final class ImageException extends IOException {
  private static final long serialVersionUID = 1L;

  public ImageException(String message) {
    super(message);
  }

  public ImageException(String message, Throwable cause) {
    super(message, cause);
  }
}
