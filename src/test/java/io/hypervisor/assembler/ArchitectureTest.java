package io.hypervisor.assembler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Enforces DESIGN.md's "who may import whom" table on every main source file: imports and
 * fully-qualified references alike, project packages and third-party libraries.
 */
class ArchitectureTest {
  private static final Path MAIN = Path.of("src/main/java/io/hypervisor/assembler");

  /** The table; "*" after a package name also allows its sub-packages. */
  static final Map<String, Set<String>> ALLOWED = Map.ofEntries(
      Map.entry("model", Set.of()),
      Map.entry("events", Set.of("model")),
      Map.entry("recipe", Set.of("model", "jackson")),
      Map.entry("plan", Set.of("model", "recipe", "jackson")),
      Map.entry("content", Set.of("model", "events")),
      Map.entry("http", Set.of("model", "events")),
      Map.entry("oci", Set.of("model", "content", "jackson")),
      Map.entry("oci.layout", Set.of("oci", "model", "content", "commons-compress")),
      Map.entry("oci.archive", Set.of("oci", "oci.layout", "model", "content", "commons-compress")),
      Map.entry("oci.registry", Set.of("oci", "http", "model", "events", "content", "jackson")),
      Map.entry("pkgrepo", Set.of("http", "content", "model", "events", "bouncycastle", "xz",
          "commons-compress")),
      Map.entry("pkgrepo.apt", Set.of("pkgrepo", "http", "content", "model", "events",
          "bouncycastle", "xz", "commons-compress")),
      Map.entry("pkgrepo.rpm", Set.of("pkgrepo", "http", "content", "model", "events",
          "bouncycastle", "xz", "commons-compress")),
      Map.entry("bbolt", Set.of()),
      Map.entry("containerd", Set.of("oci", "bbolt", "content", "model")),
      Map.entry("fetch", Set.of("plan", "content", "oci", "oci.layout", "oci.archive",
          "oci.registry", "pkgrepo", "pkgrepo.apt", "pkgrepo.rpm", "http", "model", "events",
          "commons-compress", "bouncycastle", "jackson")),
      Map.entry("guestfs", Set.of("model", "events", "libguestfs", "xz")),
      Map.entry("steps", Set.of("model", "plan", "content", "guestfs", "containerd", "events", "tree")),
      Map.entry("tree", Set.of("model", "content", "sys")),
      Map.entry("stepcache", Set.of("model", "jackson")),
      Map.entry("assemble", Set.of("model", "events", "recipe", "plan", "content", "http", "oci",
          "oci.layout", "oci.archive", "oci.registry", "pkgrepo", "pkgrepo.apt", "pkgrepo.rpm",
          "bbolt", "containerd", "fetch", "guestfs", "steps", "sys", "tree", "publish", "stepcache", "jackson",
          "commons-compress")),
      Map.entry("provenance", Set.of("model", "plan", "oci", "pkgrepo", "content", "jackson", "bouncycastle")),
      Map.entry("sys", Set.of("jna")),
      Map.entry("publish", Set.of("model", "events", "content", "oci", "oci.registry", "http", "jackson")),
      Map.entry("cli", Set.of("assemble", "provenance", "tree", "publish", "stepcache", "recipe", "plan", "events", "model", "picocli",
          "jackson")));

  /** Third-party package prefixes and the names the table uses for them. */
  static final Map<String, String> LIBRARIES = Map.of(
      "com.fasterxml.jackson", "jackson",
      "org.apache.commons.compress", "commons-compress",
      "org.tukaani.xz", "xz",
      "org.bouncycastle", "bouncycastle",
      "com.sun.jna", "jna",
      "picocli", "picocli",
      "com.redhat.et.libguestfs", "libguestfs");

  private static final Pattern OWN = Pattern.compile("io\\.hypervisor\\.assembler\\.((?:[a-z]+\\.)*?[a-z]+)\\.[A-Z]");
  private static final Pattern LIB = Pattern.compile(
      "\\b(com\\.fasterxml\\.jackson|org\\.apache\\.commons\\.compress|org\\.tukaani\\.xz|org\\.bouncycastle"
          + "|com\\.sun\\.jna|picocli|com\\.redhat\\.et\\.libguestfs)\\.");

  @Test
  void everyMainFileImportsOnlyWhatItsPackageMay() throws IOException {
    List<String> violations = new ArrayList<>();
    Set<String> seenPackages = new TreeSet<>();
    try (Stream<Path> files = Files.walk(MAIN)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        String pkg = MAIN.relativize(f.getParent()).toString().replace('/', '.');
        seenPackages.add(pkg);
        Set<String> allowed = ALLOWED.get(pkg);
        if (allowed == null) {
          violations.add(f + ": package " + pkg + " is not in DESIGN.md's table");
          continue;
        }
        String code = stripComments(Files.readString(f));
        Matcher m = OWN.matcher(code);
        while (m.find()) {
          String used = m.group(1);
          if (!used.equals(pkg) && !allowed.contains(used)) {
            violations.add(f + ": " + pkg + " may not use " + used);
          }
        }
        Matcher l = LIB.matcher(code);
        while (l.find()) {
          String lib = LIBRARIES.get(l.group(1));
          if (!allowed.contains(lib)) {
            violations.add(f + ": " + pkg + " may not use " + lib);
          }
        }
      }
    }
    assertEquals(List.of(), violations.stream().distinct().toList());
    assertTrue(seenPackages.contains("model") && seenPackages.contains("cli"), "walked " + seenPackages);
  }

  @Test
  void everyPackageHasAPackageInfo() throws IOException {
    List<String> missing = new ArrayList<>();
    try (Stream<Path> dirs = Files.walk(MAIN)) {
      for (Path d : dirs.filter(Files::isDirectory).toList()) {
        boolean hasJava;
        try (Stream<Path> s = Files.list(d)) {
          hasJava = s.anyMatch(p -> p.toString().endsWith(".java"));
        }
        if (hasJava && !Files.exists(d.resolve("package-info.java"))) {
          missing.add(d.toString());
        }
        if (hasJava && Files.exists(d.resolve("package-info.java"))
            && !Files.readString(d.resolve("package-info.java")).contains("May depend on:")) {
          missing.add(d + " (package-info lacks \"May depend on:\")");
        }
      }
    }
    assertEquals(List.of(), missing);
  }

  @Test
  void theCheckerNoticesAForbiddenReference() {
    String code = stripComments("""
        package x; // io.hypervisor.assembler.cli.Main in a comment is fine
        class A { Object o = io.hypervisor.assembler.guestfs.HostProbe.class; }
        """);
    Matcher m = OWN.matcher(code);
    assertTrue(m.find());
    assertEquals("guestfs", m.group(1));
  }

  static String stripComments(String code) {
    return code.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
  }
}
