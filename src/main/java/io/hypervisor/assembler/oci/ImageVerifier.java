package io.hypervisor.assembler.oci;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.MediaType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks an image in the content store completely: every blob present with its size and digest
 * (re-hashed), the index lists each selected manifest, each manifest names exactly the recorded
 * config and layers, each config is for its platform and has one DiffID per layer.
 */
public final class ImageVerifier {
  private ImageVerifier() {}

  /** Every problem found (empty when the image is intact). */
  public static List<String> verify(ImageRecord img, ContentStore store) throws IOException {
    List<String> problems = new ArrayList<>();
    for (Descriptor d : img.blobs()) {
      long size = store.size(d.digest());
      if (size < 0) {
        problems.add(img.ref() + ": blob " + d.digest() + " is missing");
      } else if (size != d.size()) {
        problems.add(img.ref() + ": blob " + d.digest() + " has " + size + " bytes, expected " + d.size());
      } else if (!store.verify(d.digest())) {
        problems.add(img.ref() + ": blob " + d.digest() + " does not hash to its digest (removed)");
      }
    }
    if (!problems.isEmpty()) {
      return problems;
    }
    if (MediaType.isIndex(img.target().mediaType())) {
      List<Digest> listed = new ArrayList<>();
      for (Wire.DescriptorJson d : Wire.index(store.read(img.target().digest())).manifests()) {
        listed.add(Digest.parse(d.digest()));
      }
      for (ImageRecord.PlatformImage p : img.platforms()) {
        if (!listed.contains(p.manifest().digest())) {
          problems.add(img.ref() + ": index does not list the " + p.platform() + " manifest " + p.manifest().digest());
        }
      }
    }
    for (ImageRecord.PlatformImage p : img.platforms()) {
      Wire.ManifestJson m = Wire.manifest(store.read(p.manifest().digest()));
      if (!Digest.parse(m.config().digest()).equals(p.config().digest())) {
        problems.add(img.ref() + ": manifest " + p.manifest().digest() + " names config " + m.config().digest());
      }
      List<Digest> layers = m.layers().stream().map(l -> Digest.parse(l.digest())).toList();
      if (!layers.equals(p.layers().stream().map(Descriptor::digest).toList())) {
        problems.add(img.ref() + ": manifest " + p.manifest().digest() + " layers differ from the record");
      }
      Wire.ConfigJson c = Wire.config(store.read(p.config().digest()));
      if (c.os() != null && c.architecture() != null && !Platforms.matches(
          new io.hypervisor.assembler.model.Platform(c.os(), c.architecture(), c.variant()), p.platform())) {
        problems.add(img.ref() + ": config of the " + p.platform() + " image says " + c.os() + "/" + c.architecture());
      }
      int diffIds = c.rootfs() == null || c.rootfs().diffIds() == null ? -1 : c.rootfs().diffIds().size();
      if (diffIds != p.layers().size()) {
        problems.add(img.ref() + ": config lists " + diffIds + " DiffIDs for " + p.layers().size() + " layers");
      }
    }
    return problems;
  }
}
