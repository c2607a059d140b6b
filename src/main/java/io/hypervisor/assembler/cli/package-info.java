/**
 * The command line: picocli commands, rendering of events (progress bars on a terminal, plain
 * lines otherwise, JSON lines with --json), problems and checks, and exit codes (0 ok, 1 failed,
 * 2 invalid input, 3 host cannot build, 130 interrupted).
 *
 * <p>Spec: README.md "Verbs" and "Exit codes". May depend on: assemble, recipe, plan, events,
 * model, picocli, jackson.
 */
package io.hypervisor.assembler.cli;
