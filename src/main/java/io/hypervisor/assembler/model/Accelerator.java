package io.hypervisor.assembler.model;

import java.util.Locale;

/** How qemu runs guests: hardware virtualisation, software emulation, or "find out". */
public enum Accelerator {
  AUTO, KVM, TCG;

  public static Accelerator parse(String s) {
    try {
      return valueOf(s.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown accelerator \"" + s + "\" (auto, kvm or tcg)");
    }
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
