package io.hypervisor.assembler.oci;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.ImageRef;
import java.io.IOException;
import java.util.Map;

/**
 * The content store as an image source, for references pinned by digest: what an earlier pull
 * (or an air-gap bundle) put there needs no network. A blob that is not there is an error naming
 * it, so the caller can fall back to a registry or say what to fetch.
 */
public final class StoreSource implements ImageSource {
  private final ContentStore store;

  public StoreSource(ContentStore store) {
    this.store = store;
  }

  @Override
  public String describe() {
    return "the content store " + store.root();
  }

  @Override
  public Descriptor resolve(ImageRef ref) throws IOException {
    if (ref.digest() == null) {
      throw new IOException(ref + " has no digest: the content store only answers pinned references");
    }
    if (!store.contains(ref.digest())) {
      throw new IOException(ref.digest() + " (" + ref + ") is not in " + describe());
    }
    byte[] top = store.read(ref.digest());
    return new Descriptor(Wire.sniffMediaType(top), ref.digest(), top.length, Map.of(), null);
  }

  @Override
  public void fetch(ImageRef ref, Descriptor blob, ContentStore target) throws IOException {
    if (target != store || !store.contains(blob.digest()) || store.size(blob.digest()) != blob.size()) {
      throw new IOException("blob " + blob.digest() + " of " + ref + " is not in " + describe());
    }
  }
}
