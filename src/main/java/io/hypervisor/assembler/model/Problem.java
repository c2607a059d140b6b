package io.hypervisor.assembler.model;

/**
 * One thing wrong (or doubtful) with the input: the path of the value ({@code kubernetes.version}),
 * where it came from, what is wrong, and a hint how to fix it.
 */
public record Problem(Severity severity, String path, Position position, String message,
    String hint) {
  /** Errors stop the build; warnings are shown and the build goes on. */
  public enum Severity { ERROR, WARNING }

  public Problem {
    if (message == null || message.isBlank()) {
      throw new IllegalArgumentException("a problem needs a message");
    }
  }

  public static Problem error(String path, Position position, String message, String hint) {
    return new Problem(Severity.ERROR, path, position, message, hint);
  }

  public static Problem warning(String path, Position position, String message, String hint) {
    return new Problem(Severity.WARNING, path, position, message, hint);
  }

  public boolean isError() {
    return severity == Severity.ERROR;
  }

  /** {@code file:line:col: path: message (hint: …)}, one line. */
  public String render() {
    StringBuilder b = new StringBuilder();
    if (position != null) {
      b.append(position).append(": ");
    }
    if (path != null && !path.isEmpty()) {
      b.append(path).append(": ");
    }
    b.append(message);
    if (hint != null && !hint.isBlank()) {
      b.append(" (hint: ").append(hint).append(')');
    }
    return b.toString();
  }
}
