package io.hypervisor.assembler.plan;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Who writes the documents that describe a finished build beside its image: first what it holds
 * and where it came from ({@link #describe}: SBOMs, provenance), then, once the catalogue manifest
 * is written too, the checksums that seal them all ({@link #seal}). Each returns the files it
 * wrote by kind, for the catalogue manifest. The build calls it; the CLI decides which one.
 */
public interface Attestor {
  /** Writes nothing; for callers that want only the image. */
  Attestor NONE = new Attestor() {
    @Override
    public Map<String, String> describe(BuildRecord build, Path dir) {
      return Map.of();
    }

    @Override
    public Map<String, String> seal(Path dir, List<String> files) {
      return Map.of();
    }
  };

  /** Writes the documents about {@code build} into {@code dir}; kind → file name. */
  Map<String, String> describe(BuildRecord build, Path dir) throws IOException;

  /** Writes checksums (and their signature) over {@code files} in {@code dir}; kind → file name. */
  Map<String, String> seal(Path dir, List<String> files) throws IOException;
}
