package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Problem;
import java.io.PrintStream;
import java.io.PrintWriter;
import picocli.CommandLine;

/** Entry point: runs the command line and turns failures into one clear message and an exit code. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs a command line; returns the exit code (DESIGN.md "Errors and exit codes"). */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    AssembleCommand root = new AssembleCommand(out, err);
    CommandLine cl = new CommandLine(root);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler((ex, a) -> {
      err.println("error: " + ex.getMessage());
      CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
      err.println("hint: run `" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help`");
      return ExitCodes.INPUT;
    });
    cl.setExecutionExceptionHandler((ex, c, parsed) -> report(ex, err, root.debug));
    try {
      return cl.execute(args);
    } catch (StackOverflowError | OutOfMemoryError e) {
      // Inputs are bounded so this should not happen; if it does, one line, not a trace.
      err.println("error: internal error: " + (e instanceof OutOfMemoryError ? "out of memory" : "stack overflow")
          + (root.debug ? "" : " (--debug shows where)"));
      if (root.debug) {
        e.printStackTrace(err);
      }
      return ExitCodes.FAILED;
    }
  }

  static int report(Exception ex, PrintStream err, boolean debug) {
    if (ex instanceof AssemblerException a) {
      err.println("error: " + a.getMessage());
      for (Problem p : a.problems()) {
        err.println("  " + (p.isError() ? "" : "warning: ") + p.render());
      }
      if (a.hint() != null && !a.hint().isBlank()) {
        err.println("hint: " + a.hint());
      }
      if (debug && a.getCause() != null) {
        a.printStackTrace(err);
      }
      return a.kind().exitCode();
    }
    err.println("error: internal error: " + AssemblerException.describe(ex));
    if (debug) {
      ex.printStackTrace(err);
    } else {
      err.println("hint: run again with --debug for the stack trace, and report it");
    }
    return ExitCodes.FAILED;
  }
}
