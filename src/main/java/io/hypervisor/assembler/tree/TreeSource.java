package io.hypervisor.assembler.tree;

import java.io.IOException;

/**
 * A root tree's entries one after another, each regular file's bytes read before the next entry:
 * a tar stream ({@link TarReader}) or an ext4 file system read on the host ({@link Ext4Reader}).
 * A hard link is an entry of type '1' naming a path given before it.
 */
public interface TreeSource {
  /** The next entry, or null at the end. */
  TarReader.Header next() throws IOException;

  /** Up to {@code n} bytes of the current entry's content; -1 at its end. */
  int data(byte[] buf, int off, int n) throws IOException;
}
