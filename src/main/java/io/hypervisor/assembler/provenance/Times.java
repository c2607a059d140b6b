package io.hypervisor.assembler.provenance;

import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;

/** Timestamps as the formats want them: whole seconds, UTC, {@code 2026-11-30T00:00:00Z}. */
final class Times {
  private Times() {}

  static String iso(Instant t) {
    return DateTimeFormatter.ISO_INSTANT.format(t.truncatedTo(ChronoUnit.SECONDS));
  }
}
