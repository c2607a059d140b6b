package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import io.hypervisor.assembler.pkgrepo.Source;
import java.util.ArrayList;
import java.util.List;

/**
 * The image's installed packages, from the output of {@code rpm -qa --qf QUERY_FORMAT} run in the
 * image (the assembly runs it inside the appliance): names, EVRs, Provides, Requires, Conflicts
 * and file names — the files matter because dependencies name paths such as {@code /bin/sh}.
 */
public final class RpmInstalled {
  /** One "N" line per package, followed by its P(rovides), R(equires), C(onflicts) and F(iles) lines. */
  public static final String QUERY_FORMAT = "N\\t%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"
      + "[P\\t%{PROVIDENAME}\\t%{PROVIDEFLAGS}\\t%{PROVIDEVERSION}\\n]"
      + "[R\\t%{REQUIRENAME}\\t%{REQUIREFLAGS}\\t%{REQUIREVERSION}\\n]"
      + "[C\\t%{CONFLICTNAME}\\t%{CONFLICTFLAGS}\\t%{CONFLICTVERSION}\\n]"
      + "[F\\t%{FILENAMES}\\n]";

  /** The command that prints it. */
  public static List<String> command() {
    return List.of("rpm", "-qa", "--qf", QUERY_FORMAT);
  }

  private static final int SENSE_LESS = 2;
  private static final int SENSE_GREATER = 4;
  private static final int SENSE_EQUAL = 8;
  private static final int SENSE_RPMLIB = 1 << 24;

  private RpmInstalled() {}

  public static List<Candidate> parse(String output) {
    List<Candidate> out = new ArrayList<>();
    Source image = new Source("installed", "rpm database", true);
    String[] n = null;
    List<Capability> provides = new ArrayList<>();
    List<Dependency> requires = new ArrayList<>();
    List<Capability> conflicts = new ArrayList<>();
    for (String line : output.split("\n")) {
      String[] f = line.split("\t", -1);
      switch (f[0]) {
        case "N" -> {
          add(out, n, provides, requires, conflicts, image);
          n = f;
          provides = new ArrayList<>();
          requires = new ArrayList<>();
          conflicts = new ArrayList<>();
        }
        case "P" -> provides.add(capability(f));
        case "R" -> {
          int flags = f.length > 2 && !f[2].isEmpty() ? Integer.parseInt(f[2]) : 0;
          if ((flags & SENSE_RPMLIB) == 0 && !f[1].startsWith("rpmlib(")) {
            if (f[1].startsWith("(")) {
              requires.addAll(RichDependency.parse(f[1]));
            } else {
              requires.add(RichDependency.simple(capability(f)));
            }
          }
        }
        case "C" -> conflicts.add(capability(f));
        case "F" -> provides.add(Capability.of(f[1]));
        default -> { }
      }
    }
    add(out, n, provides, requires, conflicts, image);
    return out;
  }

  private static void add(List<Candidate> out, String[] n, List<Capability> provides, List<Dependency> requires,
      List<Capability> conflicts, Source image) {
    // gpg-pubkey entries are imported keys, not packages.
    if (n == null || n[1].equals("gpg-pubkey")) {
      return;
    }
    String evr = (n[2].equals("0") || n[2].isEmpty() ? "" : n[2] + ":") + n[3] + "-" + n[4];
    out.add(new Candidate(n[1], evr, n[5], requires, List.of(), provides, conflicts, null, -1, null, image));
  }

  private static Capability capability(String[] f) {
    int flags = f.length > 2 && !f[2].isEmpty() ? Integer.parseInt(f[2]) : 0;
    String v = f.length > 3 ? f[3] : "";
    int sense = flags & (SENSE_LESS | SENSE_GREATER | SENSE_EQUAL);
    if (v.isEmpty() || sense == 0) {
      return Capability.of(f[1]);
    }
    Capability.Op op = switch (sense) {
      case SENSE_LESS -> Capability.Op.LT;
      case SENSE_LESS | SENSE_EQUAL -> Capability.Op.LE;
      case SENSE_EQUAL -> Capability.Op.EQ;
      case SENSE_GREATER | SENSE_EQUAL -> Capability.Op.GE;
      default -> Capability.Op.GT;
    };
    return new Capability(f[1], op, v);
  }
}
