package io.hypervisor.assembler.pkgrepo;

import java.util.List;

/**
 * One package version a repository offers (or, without a location, one the image has installed):
 * what the resolver needs (its dependencies, what it provides, what it conflicts with) and where
 * to download it (absolute URL, sha256 and size from the signed index).
 */
public record Candidate(String name, String version, String arch, List<Dependency> requires,
    List<Dependency> preRequires, List<Capability> provides, List<Capability> conflicts, String url, long size,
    String sha256, Source source) {

  /** {@code preRequires} is the subset of {@code requires} that must be configured before this unpacks (Pre-Depends, Requires(pre)). */
  public Candidate {
    requires = List.copyOf(requires);
    preRequires = List.copyOf(preRequires);
    provides = List.copyOf(provides);
    conflicts = List.copyOf(conflicts);
  }

  /** Whether the image already has it (it came from the package database, not an index). */
  public boolean installed() {
    return url == null;
  }

  /** name=version, as apt shows it (and the lock keys it). */
  public String id() {
    return name + "=" + version;
  }

  @Override
  public String toString() {
    return name + " " + version;
  }
}
