package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Where fixtures/build put the test world (README of fixtures/), and what it contains. */
public final class Fixtures {
  private Fixtures() {}

  /** The fixture cache root: $ASSEMBLE_FIXTURES, else $XDG_CACHE_HOME or ~/.cache, /assemble-fixtures. */
  public static Path root() {
    String env = System.getenv("ASSEMBLE_FIXTURES");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    return cache.resolve("assemble-fixtures");
  }

  /** A built part (images, registry, repos, bbolt-check, base-image); fails clearly when missing. */
  public static Path part(String name) {
    Path p = root().resolve(name);
    if (!Files.exists(p.resolve(".complete"))) {
      throw new IllegalStateException("test world part '" + name + "' is not built under " + root()
          + ": run fixtures/build (./run-tests does)");
    }
    try {
      return p.toRealPath();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One line of fixtures' digests.tsv: an image as the registry serves it. */
  public record PublishedImage(String reference, String digest, String mediaType) {
    /** The repository path on the test registry (the reference without its host). */
    public String path() {
      return reference.substring(reference.indexOf('/') + 1);
    }
  }

  public static List<PublishedImage> publishedImages() {
    try {
      List<PublishedImage> out = new ArrayList<>();
      for (String line : Files.readAllLines(part("registry").resolve("digests.tsv"))) {
        String[] f = line.split("\t");
        out.add(new PublishedImage(f[0], f[1], f[2]));
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static PublishedImage published(String reference) {
    return publishedImages().stream().filter(i -> i.reference().equals(reference)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no fixture image " + reference));
  }

  /** Copies a directory tree (a fixture part a test wants to tamper with). */
  public static void copyTree(Path from, Path to) throws IOException {
    try (java.util.stream.Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
  }
}
