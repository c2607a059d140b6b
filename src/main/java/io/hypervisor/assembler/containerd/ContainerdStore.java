package io.hypervisor.assembler.containerd;

import io.hypervisor.assembler.bbolt.BoltChecker;
import io.hypervisor.assembler.bbolt.BoltReader;
import io.hypervisor.assembler.bbolt.BoltWriter;
import io.hypervisor.assembler.bbolt.Bucket;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.TreeSink;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.Platforms;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * containerd's image store for a set of images, as files: every blob of the node's platform (the
 * index kept whole) under {@code io.containerd.content.v1.content/blobs/sha256/} (0444), and
 * {@code io.containerd.metadata.v1.bolt/meta.db} holding, in the namespace (k8s.io):
 * <ul>
 *   <li>each image under the three names CRI creates — {@code repo:tag}, {@code repo@<target
 *   digest>} and {@code sha256:<config digest>} — with the pulled target descriptor and CRI's
 *   {@code io.cri-containerd.image=managed} label ({@code io.cri-containerd.pinned=pinned} on the
 *   sandbox image for 1.7+);</li>
 *   <li>a content record per blob with its size and the labels a real pull sets: the garbage
 *   collector's references ({@code containerd.io/gc.ref.content.m.<i>} on the index,
 *   {@code .config} and {@code .l.<i>} on manifests; without them containerd's start-up GC deletes
 *   the blobs) and {@code containerd.io/distribution.source.<host>}.</li>
 * </ul>
 */
public final class ContainerdStore {
  public static final String CONTENT = "io.containerd.content.v1.content";
  public static final String METADATA = "io.containerd.metadata.v1.bolt";
  static final String MANAGED = "io.cri-containerd.image";
  static final String PINNED = "io.cri-containerd.pinned";
  static final String GC_CONTENT = "containerd.io/gc.ref.content.";
  static final String SOURCE = "containerd.io/distribution.source.";

  private ContainerdStore() {}

  /** One blob of the store with its content-record labels. */
  record Blob(Descriptor descriptor, Map<String, String> labels) {}

  /** An image record name and its target. */
  record Name(String name, Descriptor target, boolean pinned) {}

  /** What will be stored: blobs (with labels) and image names. */
  record Contents(Map<Digest, Blob> blobs, List<Name> names) {}

  static Contents contents(List<ImageRecord> images, StoreOptions o) throws IOException {
    Map<Digest, Map<String, String>> labels = new TreeMap<>();
    Map<Digest, Descriptor> descriptors = new TreeMap<>();
    Map<Digest, Map<String, TreeSet<String>>> sources = new TreeMap<>();
    Map<String, Name> names = new LinkedHashMap<>();
    String sandbox = o.sandboxImage() == null ? null : ImageRef.parse(o.sandboxImage()).toString();
    for (ImageRecord img : images) {
      ImageRecord.PlatformImage node = img.platforms().stream()
          .filter(p -> Platforms.matches(p.platform(), o.platform())).findFirst()
          .orElseThrow(() -> new IOException(img.ref() + " has no " + o.platform() + " image among those pulled ("
              + img.platforms().stream().map(p -> p.platform().toString()).toList() + ")"));
      List<Descriptor> blobs = new ArrayList<>();
      Descriptor target = img.target().withAnnotations(Map.of());
      blobs.add(target);
      if (MediaType.isIndex(target.mediaType())) {
        Map<String, String> l = labels.computeIfAbsent(target.digest(), k -> new TreeMap<>());
        int m = 0;
        int other = 0;
        // A real pull labels every child of the index, all platforms (labelling happens before
        // the platform filter; containerd-store.md §2.6); references to absent blobs are dead
        // edges the GC ignores.
        for (Descriptor child : img.indexChildren()) {
          if (MediaType.isManifest(child.mediaType())) {
            l.put(GC_CONTENT + "m." + m++, child.digest().toString());
          } else {
            l.put(GC_CONTENT + other++, child.digest().toString());
          }
        }
        blobs.add(node.manifest());
      }
      Map<String, String> ml = labels.computeIfAbsent(node.manifest().digest(), k -> new TreeMap<>());
      ml.put(GC_CONTENT + "config", node.config().digest().toString());
      for (int i = 0; i < node.layers().size(); i++) {
        ml.put(GC_CONTENT + "l." + i, node.layers().get(i).digest().toString());
      }
      blobs.add(node.config());
      blobs.addAll(node.layers());
      for (Descriptor d : blobs) {
        descriptors.putIfAbsent(d.digest(), Descriptor.of(d.mediaType(), d.digest(), d.size()));
        labels.computeIfAbsent(d.digest(), k -> new TreeMap<>());
        sources.computeIfAbsent(d.digest(), k -> new TreeMap<>())
            .computeIfAbsent(img.ref().registry(), k -> new TreeSet<>()).add(img.ref().repository());
      }
      String tagged = img.ref().tagged();
      boolean pinned = o.pinSandbox() && tagged != null && tagged.equals(sandbox);
      List<String> imageNames = new ArrayList<>();
      if (tagged != null) {
        imageNames.add(tagged);
      }
      imageNames.add(img.ref().name() + "@" + target.digest());
      imageNames.add(node.config().digest().toString());
      for (String n : imageNames) {
        Name prev = names.get(n);
        if (prev != null && !prev.target().digest().equals(target.digest())) {
          throw new IOException("image name " + n + " would point at both " + prev.target().digest() + " and "
              + target.digest());
        }
        names.put(n, new Name(n, target, pinned || (prev != null && prev.pinned())));
      }
    }
    Map<Digest, Blob> blobs = new TreeMap<>();
    for (var e : descriptors.entrySet()) {
      Map<String, String> l = new TreeMap<>(labels.get(e.getKey()));
      sources.get(e.getKey()).forEach((host, repos) -> l.put(SOURCE + host, String.join(",", repos)));
      blobs.put(e.getKey(), new Blob(e.getValue(), l));
    }
    return new Contents(blobs, new ArrayList<>(names.values()));
  }

  /** The meta.db tree: {@code v1/version} and the namespace's images and content records. */
  public static Bucket metadata(List<ImageRecord> images, StoreOptions o) throws IOException {
    Bucket root = new Bucket();
    addTo(root, contents(images, o), o);
    return root;
  }

  private static void addTo(Bucket root, Contents c, StoreOptions o) {
    Bucket v1 = root.bucket("v1");
    byte[] existing = v1.get("version");
    if (existing == null || Encoding.readVarint(existing) < o.metadataVersion()) {
      v1.put("version", Encoding.varint(o.metadataVersion()));
    }
    Bucket ns = v1.bucket(o.namespace());
    byte[] time = Encoding.time(o.timestamp());
    Bucket blobs = ns.bucket("content").bucket("blob");
    for (Blob b : c.blobs().values()) {
      Bucket r = blobs.bucket(b.descriptor().digest().toString());
      r.put("createdat", time).put("updatedat", time).put("size", Encoding.varint(b.descriptor().size()));
      if (!b.labels().isEmpty()) {
        Bucket l = r.bucket("labels");
        b.labels().forEach(l::put);
      }
    }
    Bucket images = ns.bucket("images");
    for (Name n : c.names()) {
      Bucket r = images.bucket(n.name());
      r.put("createdat", time).put("updatedat", time);
      Bucket t = r.bucket("target");
      t.put("digest", n.target().digest().toString()).put("mediatype", n.target().mediaType())
          .put("size", Encoding.varint(n.target().size()));
      Bucket l = r.bucket("labels");
      l.put(MANAGED, "managed");
      if (n.pinned()) {
        l.put(PINNED, "pinned");
      }
    }
  }

  /**
   * Writes the store under {@code prefix} (e.g. {@code var/lib/containerd}) into a sink. When
   * {@code existing} holds a meta.db (seeding a host that already has images), its records are
   * kept and ours added.
   */
  public static void write(List<ImageRecord> images, StoreOptions o, ContentStore store, TreeSink sink,
      String prefix, byte[] existing) throws IOException {
    Contents c = contents(images, o);
    for (Blob b : c.blobs().values()) {
      if (store.size(b.descriptor().digest()) != b.descriptor().size()) {
        throw new IOException("blob " + b.descriptor().digest() + " is not in the content store with "
            + b.descriptor().size() + " bytes");
      }
    }
    Bucket root = existing == null ? new Bucket() : BoltReader.read(existing);
    addTo(root, c, o);
    byte[] db = BoltWriter.write(root);
    List<String> problems = BoltChecker.check(db);
    if (!problems.isEmpty()) {
      throw new IOException("the meta.db written is not consistent (a bug): " + problems);
    }
    String p = prefix.isEmpty() ? "" : prefix.replaceAll("/+$", "") + "/";
    if (!p.isEmpty()) {
      sink.directory(p, 0711);
    }
    sink.directory(p + CONTENT, 0711);
    sink.directory(p + CONTENT + "/blobs", 0755);
    sink.directory(p + CONTENT + "/blobs/sha256", 0755);
    for (Blob b : c.blobs().values()) {
      sink.blob(p + CONTENT + "/blobs/sha256/" + b.descriptor().digest().encoded(), 0444, b.descriptor().digest());
    }
    sink.directory(p + METADATA, 0711);
    sink.file(p + METADATA + "/meta.db", 0644, db);
  }

  /** What to seed: the images and how containerd must see them; the steps hold it without knowing OCI types. */
  public record Seed(List<ImageRecord> images, StoreOptions options) {
    public Seed {
      images = List.copyOf(images);
    }

    public long size() throws IOException {
      return ContainerdStore.size(images, options);
    }

    public void write(ContentStore store, TreeSink sink, String prefix, byte[] existing) throws IOException {
      ContainerdStore.write(images, options, store, sink, prefix, existing);
    }
  }

  /** An image name a meta.db holds, with its target. */
  public record StoredImage(String name, Digest digest, String mediaType, long size, boolean pinned) {}

  /** What a meta.db says a namespace holds: image names and content records (digest and size). */
  public record Catalog(int version, List<StoredImage> images, Map<Digest, Long> content) {}

  /**
   * Reads a meta.db back (verify uses it on a written image): the database must pass the bbolt
   * checks; then every image name of the namespace and every content record.
   */
  public static Catalog read(byte[] metaDb, String namespace) throws IOException {
    List<String> problems = BoltChecker.check(metaDb);
    if (!problems.isEmpty()) {
      throw new IOException("meta.db is not a consistent bbolt database: " + String.join("; ", problems));
    }
    Bucket root = BoltReader.read(metaDb);
    Bucket v1 = root.child("v1");
    if (v1 == null) {
      throw new IOException("meta.db has no v1 bucket: not containerd's metadata");
    }
    byte[] version = v1.get("version");
    Bucket ns = v1.child(namespace);
    List<StoredImage> images = new ArrayList<>();
    Map<Digest, Long> content = new TreeMap<>();
    if (ns != null) {
      Bucket imgs = ns.child("images");
      if (imgs != null) {
        for (var e : imgs.entries().entrySet()) {
          if (e.getValue() instanceof Bucket b && b.child("target") != null) {
            Bucket t = b.child("target");
            Bucket labels = b.child("labels");
            images.add(new StoredImage(new String(e.getKey(), java.nio.charset.StandardCharsets.UTF_8),
                Digest.parse(new String(t.get("digest"), java.nio.charset.StandardCharsets.UTF_8)),
                new String(t.get("mediatype"), java.nio.charset.StandardCharsets.UTF_8),
                Encoding.readVarint(t.get("size")), labels != null && labels.get(PINNED) != null));
          }
        }
      }
      Bucket blobs = ns.child("content") == null ? null : ns.child("content").child("blob");
      if (blobs != null) {
        for (var e : blobs.entries().entrySet()) {
          if (e.getValue() instanceof Bucket b) {
            content.put(Digest.parse(new String(e.getKey(), java.nio.charset.StandardCharsets.UTF_8)),
                b.get("size") == null ? -1 : Encoding.readVarint(b.get("size")));
          }
        }
      }
    }
    return new Catalog(version == null ? 0 : (int) Encoding.readVarint(version), images, content);
  }

  /** Total bytes of the blobs the store will hold (for progress). */
  public static long size(List<ImageRecord> images, StoreOptions o) throws IOException {
    return contents(images, o).blobs().values().stream().mapToLong(b -> b.descriptor().size()).sum();
  }
}
