package io.hypervisor.assembler.pkgrepo.apt;

import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Splits a lock's package files into {@code dpkg -i} runs, as apt would split its dpkg calls:
 * dpkg unpacks a package only when its pre-dependencies are configured, and it configures the
 * packages of one run after unpacking them all. So a package whose Pre-Depends names another
 * package of the set goes into a later run than that package and everything it depends on (within
 * the set). Without such a pre-dependency (the usual node package set) everything is one run.
 * Unlike a split of the install order where a pre-dependency falls in the current batch, this
 * does not depend on the files' order (a lock written by hand keeps working). DebianClosureIT
 * installs a resolved set with dpkg in these runs in a chroot of the base image's tree.
 */
public final class DpkgRuns {
  private DpkgRuns() {}

  /** The run (0, 1, ...) of each package, in the order given. */
  public static List<Integer> of(List<Candidate> packages) throws IOException {
    Map<String, List<Integer>> byName = new HashMap<>();
    for (int i = 0; i < packages.size(); i++) {
      Candidate c = packages.get(i);
      byName.computeIfAbsent(c.name(), k -> new ArrayList<>()).add(i);
      for (Capability p : c.provides()) {
        byName.computeIfAbsent(p.name(), k -> new ArrayList<>()).add(i);
      }
    }
    Integer[] run = new Integer[packages.size()];
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < packages.size(); i++) {
      out.add(run(i, packages, byName, run, new LinkedHashSet<>()));
    }
    return out;
  }

  private static int run(int i, List<Candidate> packages, Map<String, List<Integer>> byName, Integer[] run,
      Set<Integer> visiting) throws IOException {
    if (run[i] != null) {
      return run[i];
    }
    if (!visiting.add(i)) {
      List<String> loop = new ArrayList<>();
      visiting.forEach(k -> loop.add(packages.get(k).name()));
      throw new IOException("pre-dependencies loop through " + String.join(" -> ", loop) + " -> "
          + packages.get(i).name() + ": no order of dpkg runs installs them");
    }
    // What must be configured before this unpacks: its pre-dependencies in the set and, for dpkg to
    // configure those, everything they depend on in the set.
    Set<Integer> need = new HashSet<>();
    Deque<Integer> todo = new ArrayDeque<>(members(packages.get(i).preRequires(), byName));
    while (!todo.isEmpty()) {
      int k = todo.pop();
      if (k != i && need.add(k)) {
        todo.addAll(members(packages.get(k).requires(), byName));
      }
    }
    int r = 0;
    for (int k : need) {
      r = Math.max(r, run(k, packages, byName, run, visiting) + 1);
    }
    visiting.remove(i);
    run[i] = r;
    return r;
  }

  private static List<Integer> members(List<Dependency> deps, Map<String, List<Integer>> byName) {
    List<Integer> out = new ArrayList<>();
    for (Dependency d : deps) {
      for (Capability c : d.anyOf()) {
        out.addAll(byName.getOrDefault(c.name(), List.of()));
      }
    }
    return out;
  }
}
