package io.hypervisor.assembler.pkgrepo;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every package version the repositories offer for the target architectures, by name, and who
 * provides which capability (virtual names; file paths for rpm).
 */
public final class Universe {
  /** A package providing a capability, possibly at a version. */
  public record Provider(Candidate pkg, Capability capability) {}

  private final VersionScheme scheme;
  private final Set<String> arches;
  private final Map<String, List<Candidate>> byName = new HashMap<>();
  private final Map<String, List<Provider>> providers = new HashMap<>();
  private int size;

  /** {@code arches}: the architectures installable on the target, e.g. amd64 and all, x86_64 and noarch. */
  public Universe(VersionScheme scheme, Set<String> arches) {
    this.scheme = scheme;
    this.arches = Set.copyOf(arches);
  }

  public VersionScheme scheme() {
    return scheme;
  }

  public boolean accepts(String arch) {
    return arches.contains(arch);
  }

  /** Adds a package version (ignored if it is for another architecture). */
  public void add(Candidate p) {
    if (!arches.contains(p.arch())) {
      return;
    }
    byName.computeIfAbsent(p.name(), k -> new ArrayList<>(2)).add(p);
    for (Capability c : p.provides()) {
      if (!c.name().equals(p.name())) {
        providers.computeIfAbsent(c.name(), k -> new ArrayList<>(2)).add(new Provider(p, c));
      }
    }
    size++;
  }

  public List<Candidate> versions(String name) {
    return byName.getOrDefault(name, List.of());
  }

  /** Packages that provide a capability under another name than their own. */
  public List<Provider> providers(String name) {
    return providers.getOrDefault(name, List.of());
  }

  public int size() {
    return size;
  }
}
