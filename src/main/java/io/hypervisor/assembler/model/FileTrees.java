package io.hypervisor.assembler.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Deleting a directory tree (or a file), children first, without following links out of it. */
public final class FileTrees {
  private FileTrees() {}

  /** Deletes {@code p} and everything under it; nothing there is not an error. */
  public static void delete(Path p) throws IOException {
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }

  /** The same, quietly: for temporary and cached trees a later run sweeps if this one cannot. */
  public static void deleteQuietly(Path p) {
    try {
      delete(p);
    } catch (IOException ignored) {
      // a leftover costs disk space only
    }
  }
}
