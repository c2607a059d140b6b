package io.hypervisor.assembler.pkgrepo;

/**
 * A named capability with an optional version constraint: a package name, a virtual name, or
 * (rpm) a file path. As a dependency it asks for a version range; as a Provides entry its version
 * (if any) is the provided one.
 */
public record Capability(String name, Op op, String version) {
  /** A version relation. */
  public enum Op {
    LT("<<", "<"), LE("<=", "<="), EQ("=", "="), GE(">=", ">="), GT(">>", ">");

    /** How dpkg writes it. */
    public final String deb;
    /** How rpm writes it. */
    public final String rpm;

    Op(String deb, String rpm) {
      this.deb = deb;
      this.rpm = rpm;
    }

    /** Parses dpkg's (<<, <=, =, >=, >>, and the obsolete < and >) and rpm's spellings (LT … GT). */
    public static Op parse(String s) {
      switch (s) {
        case "<<": case "LT": return LT;
        case "<=": case "<": case "LE": return LE; // dpkg: the obsolete "<" means "<="
        case "=": case "EQ": return EQ;
        case ">=": case ">": case "GE": return GE; // dpkg: the obsolete ">" means ">="
        case ">>": case "GT": return GT;
        default: throw new IllegalArgumentException("unknown version relation \"" + s + "\"");
      }
    }
  }

  public Capability {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("a capability needs a name");
    }
    if ((op == null) != (version == null)) {
      throw new IllegalArgumentException("capability " + name + ": a relation needs both operator and version");
    }
  }

  public static Capability of(String name) {
    return new Capability(name, null, null);
  }

  /** Whether a concrete version is within this constraint. */
  public boolean accepts(String v, VersionScheme scheme) {
    if (op == null) {
      return true;
    }
    int c = scheme.compare(v, version);
    switch (op) {
      case LT: return c < 0;
      case LE: return c <= 0;
      case EQ: return c == 0;
      case GE: return c >= 0;
      default: return c > 0;
    }
  }
}
