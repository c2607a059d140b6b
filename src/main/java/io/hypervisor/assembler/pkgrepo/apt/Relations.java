package io.hypervisor.assembler.pkgrepo.apt;

import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Parses dpkg relationship fields (Depends, Pre-Depends, Conflicts, Breaks, Provides): entries
 * separated by commas, alternatives by {@code |}, each a name with an optional {@code :arch}
 * qualifier and an optional {@code (op version)}. Names are interned through a map shared by one
 * index, because a full Packages file repeats the same few thousand names ~200 000 times.
 */
final class Relations {
  private final String arch;
  private final Map<String, String> names;

  Relations(String arch, Map<String, String> names) {
    this.arch = arch;
    this.names = names;
  }

  String intern(String s) {
    String prev = names.putIfAbsent(s, s);
    return prev != null ? prev : s;
  }

  /** A whole Depends-like field. */
  List<Dependency> dependencies(String field) {
    if (field == null || field.isBlank()) {
      return List.of();
    }
    List<Dependency> out = new ArrayList<>();
    for (String rel : field.split(",")) {
      List<Capability> alts = new ArrayList<>(1);
      for (String alt : rel.split("\\|")) {
        Capability c = capability(alt);
        if (c != null) {
          alts.add(c);
        }
      }
      if (!alts.isEmpty()) {
        out.add(new Dependency(alts, List.of(), List.of(), null));
      }
    }
    return out;
  }

  /** A Provides/Conflicts/Breaks-like field: every alternative as a flat list. */
  List<Capability> capabilities(String field) {
    if (field == null || field.isBlank()) {
      return List.of();
    }
    List<Capability> out = new ArrayList<>();
    for (String rel : field.split("[,|]")) {
      Capability c = capability(rel);
      if (c != null) {
        out.add(c);
      }
    }
    return out;
  }

  /** One alternative, or null when its architecture restriction excludes our architecture. */
  Capability capability(String text) {
    String a = text.trim();
    if (a.isEmpty()) {
      return null;
    }
    // Build profiles (<…>) do not apply to binary packages; architecture restrictions ([…]) only
    // appear in source packages but are honoured if present.
    if (a.indexOf('<') >= 0 && a.indexOf('(') < 0) {
      a = a.replaceAll("<[^>]*>", "").trim();
    }
    int bracket = a.indexOf('[');
    if (bracket >= 0) {
      String arches = a.substring(bracket + 1, a.indexOf(']', bracket));
      a = (a.substring(0, bracket) + a.substring(a.indexOf(']', bracket) + 1)).trim();
      if (!arches.contains(arch) && !arches.contains("any")) {
        return null;
      }
    }
    Capability.Op op = null;
    String version = null;
    int paren = a.indexOf('(');
    if (paren >= 0) {
      String c = a.substring(paren + 1, a.indexOf(')', paren)).trim();
      a = a.substring(0, paren).trim();
      int k = 0;
      while (k < c.length() && "<>=".indexOf(c.charAt(k)) >= 0) {
        k++;
      }
      op = Capability.Op.parse(c.substring(0, k));
      version = c.substring(k).trim();
    }
    // Multi-Arch qualifiers (:any, :native, :amd64): a single-architecture image satisfies them
    // with the package of that name, so the qualifier does not change the choice.
    int colon = a.indexOf(':');
    if (colon > 0) {
      a = a.substring(0, colon);
    }
    return new Capability(intern(a), op, version == null ? null : intern(version));
  }
}
