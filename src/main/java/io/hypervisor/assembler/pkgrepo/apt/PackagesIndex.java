package io.hypervisor.assembler.pkgrepo.apt;

import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import io.hypervisor.assembler.pkgrepo.Source;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Streams the packages of a Packages file (plain; decompression is the caller's), and reads the
 * installed set from dpkg's status file, as resolver candidates.
 */
public final class PackagesIndex {
  private static final Set<String> FIELDS = Set.of("package", "version", "architecture", "depends",
      "pre-depends", "provides", "conflicts", "breaks", "filename", "size", "sha256", "status");

  private PackagesIndex() {}

  /** Parses a Packages file of one repository. */
  public static void parse(InputStream in, AptRepository repo, String arch, Consumer<Candidate> sink)
      throws IOException {
    Relations rel = new Relations(arch, new HashMap<>());
    Source source = repo.source();
    Stanzas s = new Stanzas(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16), FIELDS);
    for (Map<String, String> m = s.next(); m != null; m = s.next()) {
      if (m.get("package") == null || m.get("version") == null) {
        continue;
      }
      String filename = m.get("filename");
      String sha256 = m.get("sha256");
      String size = m.get("size");
      if (filename == null || sha256 == null || size == null) {
        throw new IOException("the Packages index of " + repo.describe() + " lists " + m.get("package") + " "
            + m.get("version") + " without Filename, Size or SHA256; the assembler installs only verified files");
      }
      sink.accept(candidate(m, rel, repo.packageBase() + filename, Long.parseLong(size.trim()), sha256.trim(), source));
    }
  }

  /**
   * The packages dpkg says are present on disk: installed, or unpacked/half-configured (dpkg will
   * finish configuring those on the next run).
   */
  public static List<Candidate> installed(byte[] status, String arch) throws IOException {
    List<Candidate> out = new ArrayList<>();
    Relations rel = new Relations(arch, new HashMap<>());
    Source image = new Source("installed", "dpkg status", true);
    Stanzas s = new Stanzas(new BufferedReader(new InputStreamReader(new ByteArrayInputStream(status),
        StandardCharsets.UTF_8)), FIELDS);
    for (Map<String, String> m = s.next(); m != null; m = s.next()) {
      String st = m.getOrDefault("status", "");
      if (m.get("package") != null && (st.endsWith(" installed") || st.endsWith(" half-configured")
          || st.endsWith(" unpacked"))) {
        out.add(candidate(m, rel, null, -1, null, image));
      }
    }
    return out;
  }

  /** A package file's own control stanza (what {@link DebFile#control} reads) as a candidate. */
  public static Candidate control(byte[] control, String arch, String what) throws IOException {
    Stanzas s = new Stanzas(new BufferedReader(new InputStreamReader(new ByteArrayInputStream(control),
        StandardCharsets.UTF_8)), FIELDS);
    Map<String, String> m = s.next();
    if (m == null || m.get("package") == null || m.get("version") == null) {
      throw new IOException(what + "'s control file names no package and version");
    }
    return candidate(m, new Relations(arch, new HashMap<>()), null, -1, null, new Source("file", what, false));
  }

  private static Candidate candidate(Map<String, String> m, Relations rel, String url, long size, String sha256,
      Source source) {
    // Pre-Depends first: they must be satisfied before unpacking, so the install order puts them earlier.
    List<Dependency> pre = rel.dependencies(m.get("pre-depends"));
    List<Dependency> requires = new ArrayList<>(pre);
    requires.addAll(rel.dependencies(m.get("depends")));
    // Breaks forbids the pair being unpacked together just like Conflicts does for our purpose:
    // the resolver must not choose both.
    List<Capability> conflicts = new ArrayList<>(rel.capabilities(m.get("conflicts")));
    conflicts.addAll(rel.capabilities(m.get("breaks")));
    return new Candidate(rel.intern(m.get("package").trim()), m.get("version").trim(),
        m.getOrDefault("architecture", "all").trim(), requires, pre, rel.capabilities(m.get("provides")), conflicts,
        url, size, sha256, source);
  }
}
