package io.hypervisor.assembler.model;

/**
 * One thing that was checked and what was found: a host probe item, or a static or boot
 * verification of an image. Rendered as a table for people and as JSON for machines.
 */
public record Check(String name, Status status, String detail) {
  /** Outcome of a check; any FAIL makes the whole verification fail. */
  public enum Status { OK, WARN, FAIL, SKIP }

  public Check {
    if (name == null || status == null) {
      throw new IllegalArgumentException("a check needs a name and a status");
    }
    detail = detail == null ? "" : detail;
  }

  public static Check ok(String name, String detail) {
    return new Check(name, Status.OK, detail);
  }

  public static Check fail(String name, String detail) {
    return new Check(name, Status.FAIL, detail);
  }

  public static Check warn(String name, String detail) {
    return new Check(name, Status.WARN, detail);
  }

  public boolean failed() {
    return status == Status.FAIL;
  }
}
