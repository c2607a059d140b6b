package io.hypervisor.assembler.oci;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.ImageRef;
import java.io.IOException;

/**
 * Where images come from: a registry, an OCI layout (directory or tar), a docker-save archive, or
 * the content store itself. A source resolves a reference to its top-level descriptor and copies
 * any blob it has into the content store, verified. Implementations must allow concurrent
 * {@link #fetch} calls (layers download in parallel).
 */
public interface ImageSource extends AutoCloseable {
  /** What this source is, for messages (e.g. {@code registry 127.0.0.1:5000}, {@code site.tar}). */
  String describe();

  /**
   * The top-level descriptor (index or manifest) that {@code ref} names here. A reference pinned
   * by digest must resolve to exactly that digest.
   */
  Descriptor resolve(ImageRef ref) throws IOException;

  /** Makes sure {@code blob} (a manifest, index, config or layer of {@code ref}) is in the store. */
  void fetch(ImageRef ref, Descriptor blob, ContentStore store) throws IOException;

  /** Releases what the source holds (connections, temporary files). */
  @Override
  default void close() throws IOException {
  }
}
