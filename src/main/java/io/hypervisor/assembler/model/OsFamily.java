package io.hypervisor.assembler.model;

/** The two package-manager families the assembler supports. */
public enum OsFamily {
  /** dpkg/apt: Debian and Ubuntu. */
  APT,
  /** rpm/dnf: RHEL, CentOS Stream, Rocky, AlmaLinux, Fedora. */
  DNF;

  @Override
  public String toString() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
