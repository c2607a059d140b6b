package io.hypervisor.assembler.model;

import java.util.List;

/**
 * A failure the user must see: what was being done, to what, what went wrong, and a hint. Its
 * {@link Kind} decides the exit code (DESIGN.md "Errors and exit codes").
 */
public class AssemblerException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Failure classes, each with its exit code. */
  public enum Kind {
    /** The build (or another action) failed: exit 1. */
    FAILED(1),
    /** Invalid input or usage: exit 2. */
    INPUT(2),
    /** This host cannot run the build: exit 3. */
    HOST(3),
    /** Interrupted: exit 130. */
    INTERRUPTED(130);

    private final int exitCode;

    Kind(int exitCode) {
      this.exitCode = exitCode;
    }

    public int exitCode() {
      return exitCode;
    }
  }

  private final Kind kind;
  private final String hint;
  private final List<Problem> problems;

  public AssemblerException(Kind kind, String message, String hint, Throwable cause) {
    this(kind, message, hint, List.of(), cause);
  }

  public AssemblerException(Kind kind, String message, String hint, List<Problem> problems,
      Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.hint = hint;
    this.problems = List.copyOf(problems);
  }

  public static AssemblerException failed(String message, String hint) {
    return new AssemblerException(Kind.FAILED, message, hint, null);
  }

  public static AssemblerException failed(String message, String hint, Throwable cause) {
    return new AssemblerException(Kind.FAILED, message, hint, cause);
  }

  public static AssemblerException input(String message, String hint) {
    return new AssemblerException(Kind.INPUT, message, hint, null);
  }

  /** Invalid input with every problem found (never just the first). */
  public static AssemblerException input(String message, List<Problem> problems) {
    return new AssemblerException(Kind.INPUT, message, null, problems, null);
  }

  public static AssemblerException host(String message, String hint) {
    return new AssemblerException(Kind.HOST, message, hint, null);
  }

  /**
   * What a failure says, for a user: its message, never its class name (that is for --debug);
   * the cause's message when it has none of its own.
   */
  public static String describe(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c.getMessage() != null && !c.getMessage().isBlank()) {
        return c.getMessage();
      }
    }
    return "an unexpected failure without a message";
  }

  public Kind kind() {
    return kind;
  }

  public String hint() {
    return hint;
  }

  public List<Problem> problems() {
    return problems;
  }
}
