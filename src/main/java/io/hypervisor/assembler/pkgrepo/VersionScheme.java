package io.hypervisor.assembler.pkgrepo;

/**
 * How a package family orders versions and matches capabilities: dpkg's or rpm's comparison,
 * and whether an unversioned Provides satisfies a versioned dependency (rpm: yes; apt: no).
 */
public interface VersionScheme {
  /** Negative, zero or positive as {@code a} is older than, equal to or newer than {@code b}. */
  int compare(String a, String b);

  /** rpm lets "Provides: foo" satisfy "Requires: foo >= 2"; apt does not. */
  boolean unversionedProvideSatisfiesVersioned();

  /** How a constraint is written in this family's messages: "foo (>= 1.2)" or "foo >= 1.2". */
  String format(Capability c);
}
