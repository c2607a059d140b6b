package io.hypervisor.assembler.oci.layout;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.oci.ImageException;
import io.hypervisor.assembler.oci.ImageSource;
import io.hypervisor.assembler.oci.Wire;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An OCI image layout as an image source: a directory, or a tar spooled into the content store
 * ({@link Archive}). Images are found by {@code io.containerd.image.name} or a full-reference
 * {@code org.opencontainers.image.ref.name}; a tag-only ref.name matches when no other entry has
 * that tag.
 */
public final class LayoutSource implements ImageSource {
  private final String name;
  private final Path dir;
  private final Archive archive;
  private final List<Descriptor> entries;

  private LayoutSource(String name, Path dir, Archive archive, List<Descriptor> entries) {
    this.name = name;
    this.dir = dir;
    this.archive = archive;
    this.entries = List.copyOf(entries);
  }

  /** An OCI layout directory. */
  public static LayoutSource directory(Path dir) throws IOException {
    checkVersion(dir.toString(), readOrNull(dir.resolve("oci-layout")));
    byte[] index = readOrNull(dir.resolve("index.json"));
    if (index == null) {
      throw new ImageException(dir + " is not an OCI layout (no index.json)");
    }
    return new LayoutSource(dir.toString(), dir, null, entries(dir.toString(), index));
  }

  /** An OCI layout tar already spooled; null when the archive is not an OCI layout. */
  public static LayoutSource archive(Archive a) throws IOException {
    if (!a.has("oci-layout") || !a.has("index.json")) {
      return null;
    }
    checkVersion(a.file().toString(), a.small("oci-layout"));
    return new LayoutSource(a.file().toString(), null, a, entries(a.file().toString(), a.small("index.json")));
  }

  /** A layout's small file (oci-layout, index.json): a regular file of at most 16 MiB, or null when absent. */
  private static byte[] readOrNull(Path p) throws IOException {
    try {
      return io.hypervisor.assembler.model.SmallFiles.read(p, Archive.SMALL, "OCI layout file");
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private static void checkVersion(String where, byte[] layout) throws IOException {
    if (layout == null) {
      throw new ImageException(where + " is not an OCI layout (no oci-layout file)");
    }
    String v = String.valueOf(Wire.layoutFile(layout).imageLayoutVersion());
    if (!v.equals("1.0.0")) {
      throw new ImageException(where + ": unsupported OCI layout version \"" + v + "\" (1.0.0 expected)");
    }
  }

  private static List<Descriptor> entries(String where, byte[] index) throws IOException {
    Wire.IndexJson idx = Wire.index(index);
    List<Descriptor> out = new ArrayList<>();
    if (idx.manifests() == null) {
      throw new ImageException(where + ": index.json lists no manifests");
    }
    for (Wire.DescriptorJson d : idx.manifests()) {
      out.add(d.toModel());
    }
    return out;
  }

  @Override
  public String describe() {
    return name;
  }

  /** The index.json entries (with their name annotations). */
  public List<Descriptor> entries() {
    return entries;
  }

  /** The full reference an entry names, or just its tag, or null. */
  public static String nameOf(Descriptor d) {
    String full = d.annotations().get(LayoutWriter.CONTAINERD_NAME);
    if (full != null) {
      return full;
    }
    return d.annotations().get(LayoutWriter.REF_NAME);
  }

  /** Index entries per image name they carry (full references normalised). */
  public Map<String, Descriptor> names() {
    Map<String, Descriptor> m = new LinkedHashMap<>();
    for (Descriptor d : entries) {
      String n = nameOf(d);
      if (n == null) {
        continue;
      }
      try {
        m.put(n.contains("/") || n.contains(":") && n.indexOf(':') < n.lastIndexOf(':')
            ? ImageRef.parse(n).toString() : n, d);
      } catch (IllegalArgumentException e) {
        m.put(n, d);
      }
    }
    return m;
  }

  @Override
  public Descriptor resolve(ImageRef ref) throws IOException {
    List<Descriptor> byTag = new ArrayList<>();
    for (Descriptor d : entries) {
      String n = nameOf(d);
      String full = d.annotations().get(LayoutWriter.CONTAINERD_NAME);
      String refName = d.annotations().get(LayoutWriter.REF_NAME);
      if (ref.digest() != null && ref.digest().equals(d.digest())) {
        return d;
      }
      if (full != null && matches(full, ref)) {
        return strip(d);
      }
      if (refName != null && (refName.contains("/") ? matches(refName, ref) : refName.equals(ref.tag()))) {
        if (refName.contains("/")) {
          return strip(d);
        }
        byTag.add(d);
      }
      if (n == null && entries.size() == 1 && ref.digest() == null) {
        byTag.add(d);
      }
    }
    if (byTag.size() == 1) {
      return strip(byTag.get(0));
    }
    throw new ImageException(describe() + " has no image " + ref + (byTag.size() > 1
        ? " (the tag " + ref.tag() + " is ambiguous here: " + byTag.size() + " entries)"
        : " (it holds: " + String.join(", ", names().keySet()) + ")"));
  }

  private static boolean matches(String name, ImageRef ref) {
    try {
      ImageRef n = ImageRef.parse(name);
      return n.name().equals(ref.name()) && (ref.tag() == null || ref.tag().equals(n.tag()))
          && (ref.digest() == null || ref.digest().equals(n.digest()));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** The descriptor as the image's own (the layout's name annotations are not part of it). */
  private static Descriptor strip(Descriptor d) {
    Map<String, String> a = new LinkedHashMap<>(d.annotations());
    a.remove(LayoutWriter.CONTAINERD_NAME);
    a.remove(LayoutWriter.REF_NAME);
    return d.withAnnotations(a);
  }

  @Override
  public void fetch(ImageRef ref, Descriptor blob, ContentStore store) throws IOException {
    String path = LayoutWriter.blobPath(blob);
    if (archive != null) {
      Digest d = archive.stored(path);
      if (d == null || !store.contains(blob.digest())) {
        throw new ImageException(describe() + " does not contain blob " + blob.digest() + " of " + ref);
      }
      return;
    }
    Path f = dir.resolve(path);
    if (!Files.exists(f)) {
      throw new ImageException(describe() + " does not contain blob " + blob.digest() + " of " + ref);
    }
    if (!Files.isRegularFile(f)) {
      throw new ImageException(describe() + ": blob " + blob.digest() + " of " + ref + " is not a regular file");
    }
    try (InputStream in = Files.newInputStream(f)) {
      store.put(blob.digest(), blob.size(), in);
    }
  }
}
