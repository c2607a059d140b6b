package io.hypervisor.assembler.pkgrepo;

import io.hypervisor.assembler.model.PackageRef;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides which package files to install so that the requested packages work on top of what the
 * image already has: the requested versions, plus the closure of their dependencies (alternatives
 * tried in order, versioned constraints, virtual packages and file paths through Provides),
 * upgrading installed packages that a new version no longer satisfies, refusing conflicts within
 * the result. The same algorithm serves apt and rpm; the {@link VersionScheme} holds what differs.
 *
 * <p>Deterministic (same inputs, same answer: alternatives in the order written, then the newest
 * version, then providers by name) and minimal (nothing a dependency does not need; weak
 * dependencies — Recommends, Suggests — are not followed, as with {@code --no-install-recommends}
 * and {@code install_weak_deps=False}). When impossible it explains the chain that failed.
 */
public final class Resolver {
  /** A requested package: name and version pattern, the repository it must come from (a name, "distro", or null), and why. */
  public record Request(PackageRef ref, String repository, String reason) {}

  /** What to install, dependencies first; or why it cannot be done. */
  public record Resolution(List<Candidate> install, List<String> problems) {
    public Resolution {
      install = List.copyOf(install);
      problems = List.copyOf(problems);
    }

    public boolean ok() {
      return problems.isEmpty();
    }
  }

  private final Universe universe;
  private final VersionScheme scheme;
  private final Comparator<Candidate> newestFirst;
  private final Map<String, Candidate> installed = new LinkedHashMap<>();
  private final Map<String, List<Candidate>> installedProviders = new HashMap<>();
  private final LinkedHashMap<String, Candidate> chosen = new LinkedHashMap<>();
  private final Map<String, String> why = new HashMap<>();
  private final List<String> problems = new ArrayList<>();
  private final Deque<Candidate> queue = new ArrayDeque<>();

  public Resolver(Universe universe, List<Candidate> installedPackages) {
    this.universe = universe;
    this.scheme = universe.scheme();
    this.newestFirst = (a, b) -> scheme.compare(b.version(), a.version());
    for (Candidate p : installedPackages) {
      installed.put(p.name(), p);
      for (Capability c : p.provides()) {
        installedProviders.computeIfAbsent(c.name(), k -> new ArrayList<>(1)).add(p);
      }
    }
  }

  public Resolution resolve(List<Request> requests) {
    for (Request r : requests) {
      request(r);
    }
    drain();
    upgradeBrokenInstalled();
    checkConflicts();
    return new Resolution(problems.isEmpty() ? order() : List.of(), problems);
  }

  private void request(Request r) {
    String name = r.ref().name();
    List<Candidate> all = universe.versions(name);
    List<Candidate> ok = all.stream().filter(p -> p.source().matches(r.repository()) && r.ref().accepts(p.version()))
        .sorted(newestFirst).toList();
    Candidate inst = installed.get(name);
    if (ok.isEmpty()) {
      if (inst != null && r.ref().accepts(inst.version()) && all.isEmpty()) {
        return; // already in the image, and no repository offers it: nothing to do
      }
      problems.add(r.ref() + " (" + r.reason() + ") cannot be installed: " + available(name, r.repository()));
      return;
    }
    Candidate p = ok.get(0);
    if (inst != null && r.ref().accepts(inst.version()) && scheme.compare(inst.version(), p.version()) >= 0) {
      return; // the image has it at this version or newer (apt: "already the newest version"); never downgrade
    }
    choose(p, "requested: " + r.reason());
  }

  private String available(String name, String hint) {
    List<Candidate> all = universe.versions(name);
    if (all.isEmpty()) {
      List<String> by = universe.providers(name).stream().map(pr -> pr.pkg().name()).distinct().sorted().toList();
      return by.isEmpty() ? "the configured repositories have no package " + name
          : "it is only a virtual package, provided by " + String.join(", ", by) + "; request one of those";
    }
    String versions = String.join(", ", all.stream().sorted(newestFirst)
        .map(p -> p.version() + " from " + p.source().name()).distinct().toList());
    String where = hint == null || all.stream().anyMatch(p -> p.source().matches(hint)) ? ""
        : " (none from " + hint + ")";
    return "the configured repositories have " + versions + where;
  }

  private void choose(Candidate p, String reason) {
    Candidate prev = chosen.get(p.name());
    if (prev != null) {
      if (!prev.version().equals(p.version())) {
        problems.add(p.name() + " is needed both as " + prev.version() + " (" + why.get(p.name()) + ") and as "
            + p.version() + " (" + reason + ")");
      }
      return;
    }
    chosen.put(p.name(), p);
    why.put(p.name(), reason);
    queue.add(p);
  }

  private void drain() {
    while (!queue.isEmpty()) {
      Candidate p = queue.poll();
      for (Dependency d : p.requires()) {
        if (satisfied(d)) {
          continue;
        }
        Candidate pick = pick(d);
        String rel = p.name() + " " + p.version() + " depends on " + d.describe(scheme);
        if (pick == null) {
          problems.add(rel + "; " + unavailable(d) + chain(p.name()));
        } else {
          choose(pick, rel);
        }
      }
    }
  }

  private String chain(String name) {
    String w = why.get(name);
    return w == null ? "" : " (" + name + " is needed because " + w + ")";
  }

  private String unavailable(Dependency d) {
    List<String> parts = new ArrayList<>();
    for (Capability a : d.anyOf()) {
      List<Candidate> all = universe.versions(a.name());
      if (all.isEmpty() && universe.providers(a.name()).isEmpty()) {
        parts.add("the configured repositories have none");
      } else {
        parts.add("the configured repositories have only " + a.name() + " "
            + String.join(", ", all.stream().sorted(newestFirst).map(Candidate::version).distinct().toList())
            + (universe.providers(a.name()).isEmpty() ? "" : " (and packages providing it at other versions)"));
      }
    }
    return String.join("; ", parts.stream().distinct().toList());
  }

  /** The package that will be present under this name: chosen, else installed. */
  private Candidate present(String name) {
    Candidate c = chosen.get(name);
    return c != null ? c : installed.get(name);
  }

  private boolean satisfied(Dependency d) {
    if (!d.onlyIf().isEmpty() && d.onlyIf().stream().noneMatch(this::presentCapability)) {
      return true; // conditional, and its condition does not hold
    }
    if (d.unless().stream().anyMatch(this::presentCapability)) {
      return true;
    }
    return d.anyOf().stream().anyMatch(this::presentCapability);
  }

  private boolean presentCapability(Capability a) {
    Candidate p = present(a.name());
    if (p != null && a.accepts(p.version(), scheme)) {
      return true;
    }
    for (Candidate c : chosen.values()) {
      if (provides(c, a)) {
        return true;
      }
    }
    for (Candidate i : installedProviders.getOrDefault(a.name(), List.of())) {
      if (present(i.name()) == i && provides(i, a)) {
        return true;
      }
    }
    return false;
  }

  /** Whether a package satisfies a capability: by its own name and version, or by a Provides entry. */
  private boolean provides(Candidate p, Capability want) {
    if (p.name().equals(want.name()) && want.accepts(p.version(), scheme)) {
      return true;
    }
    for (Capability c : p.provides()) {
      if (c.name().equals(want.name())) {
        if (want.op() == null) {
          return true;
        }
        if (c.version() == null ? scheme.unversionedProvideSatisfiesVersioned() : want.accepts(c.version(), scheme)) {
          return true;
        }
      }
    }
    return false;
  }

  /** The first alternative that can be installed: a package of that name, else a provider. */
  private Candidate pick(Dependency d) {
    for (Capability a : d.anyOf()) {
      List<Candidate> real = universe.versions(a.name()).stream().filter(p -> a.accepts(p.version(), scheme))
          .sorted(newestFirst).toList();
      if (!real.isEmpty()) {
        return real.get(0);
      }
      List<Candidate> providers = universe.providers(a.name()).stream().map(Universe.Provider::pkg)
          .filter(p -> provides(p, a))
          .sorted(Comparator.comparing(Candidate::name).thenComparing(newestFirst)).toList();
      if (!providers.isEmpty()) {
        return providers.get(0);
      }
    }
    return null;
  }

  /** Installed packages whose dependencies a chosen upgrade broke are upgraded too. */
  private void upgradeBrokenInstalled() {
    boolean changed = true;
    Set<String> tried = new HashSet<>();
    while (changed && problems.isEmpty()) {
      changed = false;
      for (Candidate i : new ArrayList<>(installed.values())) {
        if (chosen.containsKey(i.name())) {
          continue;
        }
        for (Dependency d : i.requires()) {
          if (!satisfied(d) && touchesChosen(d) && tried.add(i.name())) {
            List<Candidate> up = universe.versions(i.name()).stream()
                .filter(p -> scheme.compare(p.version(), i.version()) > 0).sorted(newestFirst).toList();
            String rel = "installed " + i.name() + " " + i.version() + " needs " + d.describe(scheme);
            if (up.isEmpty()) {
              problems.add(rel + ", which the new packages no longer satisfy, and no newer " + i.name()
                  + " is available");
            } else {
              choose(up.get(0), rel);
              drain();
              changed = true;
            }
            break;
          }
        }
      }
    }
  }

  private boolean touchesChosen(Dependency d) {
    return d.anyOf().stream().anyMatch(a -> chosen.containsKey(a.name())
        || chosen.values().stream().anyMatch(c -> c.provides().stream().anyMatch(p -> p.name().equals(a.name()))));
  }

  private void checkConflicts() {
    for (Candidate p : chosen.values()) {
      conflicts(p);
    }
    for (Candidate i : installed.values()) {
      if (!chosen.containsKey(i.name())) {
        conflicts(i);
      }
    }
  }

  private void conflicts(Candidate p) {
    Set<String> reported = new HashSet<>();
    for (Capability c : p.conflicts()) {
      List<Candidate> others = new ArrayList<>(chosen.values());
      installed.values().stream().filter(i -> present(i.name()) == i).forEach(others::add);
      for (Candidate q : others) {
        boolean involvesNew = chosen.get(p.name()) == p || chosen.get(q.name()) == q;
        // A package may conflict with a name it provides itself (apt's Provides+Conflicts+Replaces idiom).
        if (!q.name().equals(p.name()) && involvesNew && provides(q, c) && reported.add(q.name())) {
          problems.add(p.name() + " " + p.version() + " conflicts with " + scheme.format(c) + ", and " + q.name()
              + " " + q.version() + (q.installed() ? " is installed" : " would be installed")
              + chain(chosen.get(p.name()) == p ? p.name() : q.name()));
        }
      }
    }
  }

  /** Chosen packages ordered so that every dependency inside the set comes first. */
  private List<Candidate> order() {
    List<Candidate> out = new ArrayList<>();
    Set<String> done = new HashSet<>();
    Set<String> visiting = new HashSet<>();
    for (Candidate p : chosen.values()) {
      visit(p, out, done, visiting);
    }
    return out;
  }

  private void visit(Candidate p, List<Candidate> out, Set<String> done, Set<String> visiting) {
    if (done.contains(p.name()) || !visiting.add(p.name())) {
      return; // done, or a dependency cycle (dpkg and rpm configure those together)
    }
    for (Dependency d : p.requires()) {
      for (Capability a : d.anyOf()) {
        Candidate c = satisfierInChosen(a);
        if (c != null) {
          visit(c, out, done, visiting);
          break;
        }
      }
    }
    visiting.remove(p.name());
    if (done.add(p.name())) {
      out.add(p);
    }
  }

  private Candidate satisfierInChosen(Capability a) {
    Candidate c = chosen.get(a.name());
    if (c != null && a.accepts(c.version(), scheme)) {
      return c;
    }
    for (Candidate q : chosen.values()) {
      if (provides(q, a)) {
        return q;
      }
    }
    return null;
  }
}
