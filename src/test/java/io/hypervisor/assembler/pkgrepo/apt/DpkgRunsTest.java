package io.hypervisor.assembler.pkgrepo.apt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dpkg runs of a package set, from control files read out of real .debs (dpkg-deb builds them
 * with each compression it writes), and dpkg itself installing them in those runs into a scratch
 * root: a pre-dependency within the set is configured before its dependant unpacks.
 */
class DpkgRunsTest {
  @TempDir
  Path tmp;

  private Path deb(String name, String fields, String compression) {
    Path root = tmp.resolve("src-" + name);
    try {
      Files.createDirectories(root.resolve("DEBIAN"));
      Files.writeString(root.resolve("DEBIAN/control"), "Package: " + name + "\nVersion: 1.0\nArchitecture: all\n"
          + "Maintainer: test <test@assemble.invalid>\n" + fields + "Description: dpkg runs test\n");
      Files.createDirectories(root.resolve("usr/share/" + name));
      Files.writeString(root.resolve("usr/share/" + name + "/README"), name + "\n");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    Path deb = tmp.resolve(name + ".deb");
    Tools.run(List.of("dpkg-deb", "--root-owner-group", "-Z" + compression, "--build", root.toString(),
        deb.toString()), tmp, 60).ok();
    return deb;
  }

  private static List<Candidate> controls(List<Path> debs) throws IOException {
    List<Candidate> out = new ArrayList<>();
    for (Path d : debs) {
      out.add(PackagesIndex.control(DebFile.control(d, d.getFileName().toString()), "amd64", d.toString()));
    }
    return out;
  }

  @Test
  void aPreDependencyAndWhatItNeedsGoFirstAndDpkgAgrees() throws Exception {
    // in the lock's order: the dependant first, as a resolver may give it
    List<Path> debs = List.of(
        deb("app", "Pre-Depends: helper (>= 1.0) | other-helper\nDepends: lib\n", "xz"),
        deb("helper", "Depends: lib, base-lib (>= 1)\n", "gzip"),
        deb("lib", "", "zstd"),
        deb("base-lib", "", "none"),
        deb("loner", "Depends: lib\n", "xz"));
    List<Candidate> c = controls(debs);
    assertEquals("helper", c.get(1).name());
    assertEquals(List.of(1, 0, 0, 0, 0), DpkgRuns.of(c));

    // dpkg in one run refuses the pre-dependency; in these runs it installs all
    Path root = tmp.resolve("root");
    Files.createDirectories(root.resolve("var/lib/dpkg/updates"));
    Files.createDirectories(root.resolve("var/lib/dpkg/info"));
    Files.writeString(root.resolve("var/lib/dpkg/status"), "");
    List<String> dpkg = List.of("dpkg", "--root=" + root, "--force-not-root", "--force-script-chrootless",
        "--log=/dev/null", "-i");
    List<String> one = new ArrayList<>(dpkg);
    debs.forEach(d -> one.add(d.toString()));
    Tools.Result refused = Tools.run(one, tmp, 60);
    assertTrue(refused.out().contains("pre-dependency problem") || refused.err().contains("pre-dependency problem"),
        refused.out() + refused.err());
    Files.writeString(root.resolve("var/lib/dpkg/status"), "");
    Tools.run(List.of("rm", "-rf", root.resolve("usr").toString()), tmp, 60).ok();
    List<Integer> runs = DpkgRuns.of(c);
    for (int run = 0; run <= 1; run++) {
      List<String> cmd = new ArrayList<>(dpkg);
      for (int i = 0; i < debs.size(); i++) {
        if (runs.get(i) == run) {
          cmd.add(debs.get(i).toString());
        }
      }
      Tools.run(cmd, tmp, 60).ok();
    }
    String status = Files.readString(root.resolve("var/lib/dpkg/status"));
    for (String n : List.of("app", "helper", "lib", "base-lib", "loner")) {
      assertTrue(status.contains("Package: " + n + "\nStatus: install ok installed\n"), status);
    }
  }

  @Test
  void aPreDependencyLoopIsNamed() throws Exception {
    List<Candidate> c = controls(List.of(deb("a", "Pre-Depends: b\n", "xz"), deb("b", "Pre-Depends: a\n", "xz")));
    IOException e = assertThrows(IOException.class, () -> DpkgRuns.of(c));
    assertTrue(e.getMessage().contains("a -> b -> a"), e.getMessage());
  }
}
