package io.hypervisor.assembler.cli;

/** The exit codes of every verb (README "Exit codes"). */
final class ExitCodes {
  static final int OK = 0;
  static final int FAILED = 1;
  static final int INPUT = 2;
  static final int HOST = 3;
  static final int INTERRUPTED = 130;

  private ExitCodes() {}
}
