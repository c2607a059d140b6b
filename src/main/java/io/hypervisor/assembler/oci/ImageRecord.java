package io.hypervisor.assembler.oci;

import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * An image whose content is in the content store: the reference it was pulled as, the top-level
 * descriptor exactly as the source served it (an index is kept whole even when only some of its
 * platforms were fetched), every child manifest the index lists, and per selected platform the
 * manifest, config and layers.
 */
public record ImageRecord(ImageRef ref, Descriptor target, List<Descriptor> indexChildren,
    List<PlatformImage> platforms, String source) {

  public ImageRecord {
    indexChildren = List.copyOf(indexChildren);
    platforms = List.copyOf(platforms);
  }

  /** One platform's image: manifest, config and layers. */
  public record PlatformImage(Platform platform, Descriptor manifest, Descriptor config,
      List<Descriptor> layers) {
    public PlatformImage {
      layers = List.copyOf(layers);
    }
  }

  public boolean isIndex() {
    return !indexChildren.isEmpty() || io.hypervisor.assembler.model.MediaType.isIndex(target.mediaType());
  }

  /** Every blob the record needs in the store: target, selected manifests, configs, layers. */
  public List<Descriptor> blobs() {
    Set<String> seen = new LinkedHashSet<>();
    List<Descriptor> out = new ArrayList<>();
    add(out, seen, target);
    for (PlatformImage p : platforms) {
      add(out, seen, p.manifest());
      add(out, seen, p.config());
      p.layers().forEach(l -> add(out, seen, l));
    }
    return out;
  }

  /** Total bytes of {@link #blobs()}. */
  public long size() {
    return blobs().stream().mapToLong(Descriptor::size).sum();
  }

  private static void add(List<Descriptor> out, Set<String> seen, Descriptor d) {
    if (seen.add(d.digest().toString())) {
      out.add(d);
    }
  }
}
