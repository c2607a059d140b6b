package io.hypervisor.assembler.content;

import io.hypervisor.assembler.model.Digest;
import java.io.IOException;

/**
 * Where a file tree goes: a tar stream ({@link TarWriter}) or a directory
 * ({@link DirectoryWriter}). Producers describe a tree once and either sink receives it.
 */
public interface TreeSink {
  void directory(String path, int mode) throws IOException;

  void file(String path, int mode, byte[] data) throws IOException;

  /** A file whose content is a content-store blob. */
  void blob(String path, int mode, Digest digest) throws IOException;
}
