package io.hypervisor.assembler.events;

import java.time.Duration;

/** Something that happened during a run, for the CLI to render. */
public sealed interface Event {
  /** A named step began. */
  record StepStarted(String step, String detail) implements Event {}

  /** A named step ended, successfully or not, after {@code duration}. */
  record StepFinished(String step, Duration duration, boolean ok, String detail) implements Event {}

  /**
   * Byte or item progress of a task; {@code total} is -1 when unknown. A task is finished when
   * {@code done == total}.
   */
  record Progress(String task, long done, long total, String unit) implements Event {}

  /** A line of information, or a warning the user should read. */
  record Log(Level level, String message) implements Event {}

  /** Severity of a {@link Log}. */
  enum Level { DEBUG, INFO, WARN }
}
