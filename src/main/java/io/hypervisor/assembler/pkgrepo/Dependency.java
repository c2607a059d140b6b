package io.hypervisor.assembler.pkgrepo;

import java.util.List;

/**
 * One dependency of a package: satisfied by any one of its alternatives ({@code a | b} in apt,
 * {@code (a or b)} in rpm). {@code onlyIf}, when not empty, makes it conditional (rpm's
 * {@code (a if b)}): it applies only when one of those is present; {@code unless} (rpm's
 * {@code (a unless b)}, the else branch of {@code if}) drops it when one of those is present.
 * {@code text}, when set, is how the package wrote it, for messages.
 */
public record Dependency(List<Capability> anyOf, List<Capability> onlyIf, List<Capability> unless, String text) {
  public Dependency {
    anyOf = List.copyOf(anyOf);
    onlyIf = onlyIf == null ? List.of() : List.copyOf(onlyIf);
    unless = unless == null ? List.of() : List.copyOf(unless);
    if (anyOf.isEmpty()) {
      throw new IllegalArgumentException("a dependency needs at least one alternative");
    }
  }

  public static Dependency on(Capability c) {
    return new Dependency(List.of(c), List.of(), List.of(), null);
  }

  /** The dependency as its family writes it. */
  public String describe(VersionScheme scheme) {
    if (text != null) {
      return text;
    }
    StringBuilder b = new StringBuilder();
    for (Capability c : anyOf) {
      if (b.length() > 0) {
        b.append(" | ");
      }
      b.append(scheme.format(c));
    }
    return b.toString();
  }
}
