package io.hypervisor.assembler.pkgrepo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Read access to the base image's files (apt/dnf configuration, keyrings, the package
 * database). The assembly implements it with libguestfs; tests and tools read an unpacked tree.
 */
public interface ImageFiles {
  /** A file's bytes, or null when it does not exist. */
  byte[] read(String path) throws IOException;

  /** Names of the entries of a directory (empty when it does not exist). */
  List<String> list(String dir) throws IOException;

  /** An unpacked root file system on the host. */
  static ImageFiles directory(Path root) {
    return new ImageFiles() {
      private Path at(String path) {
        return root.resolve(path.replaceFirst("^/+", ""));
      }

      @Override
      public byte[] read(String path) throws IOException {
        try {
          return Files.readAllBytes(at(path));
        } catch (NoSuchFileException e) {
          return null;
        }
      }

      @Override
      public List<String> list(String dir) throws IOException {
        Path d = at(dir);
        if (!Files.isDirectory(d)) {
          return List.of();
        }
        try (Stream<Path> s = Files.list(d)) {
          return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
      }
    };
  }
}
