package io.hypervisor.assembler.containerd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.bbolt.BoltChecker;
import io.hypervisor.assembler.bbolt.BoltReader;
import io.hypervisor.assembler.bbolt.BoltWriter;
import io.hypervisor.assembler.bbolt.Bucket;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.DirectoryWriter;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** containerd's schema as the specification and a real pull write it. */
public class ContainerdStoreTest {
  public static final Instant T = Instant.parse("2026-11-21T00:00:00Z");

  @TempDir
  Path dir;

  @Test
  void encodingsMatchGo() {
    assertEquals("06", hex(Encoding.varint(3)));
    assertEquals("08", hex(Encoding.varint(4)));
    assertEquals("d608", hex(Encoding.varint(555)));
    assertEquals("c204", hex(Encoding.varint(289)));
    assertEquals(555, Encoding.readVarint(Encoding.varint(555)));
    byte[] t = Encoding.time(Instant.ofEpochSecond(0x0ee293425fL - Encoding.GO_EPOCH_OFFSET, 0x20ad27f1));
    assertEquals("010000000ee293425f20ad27f1ffff", hex(t), "the real example of containerd-store.md §2.2");
    assertEquals(T, Encoding.readTime(Encoding.time(T)));
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  /** A store with the blobs of a synthetic multi-platform image (plus an attestation entry). */
  public record Fixture(ContentStore store, ImageRecord image) {}

  public static Fixture image(String ref, String salt, ContentStore store) throws IOException {
    Digest l0 = store.put(("shared base layer").getBytes(StandardCharsets.UTF_8));
    Digest l1 = store.put((ref + " own layer " + salt).getBytes(StandardCharsets.UTF_8));
    Digest cfg = store.put(("{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"diff_ids\":[1,2]},\"x\":\""
        + ref + salt + "\"}").getBytes(StandardCharsets.UTF_8));
    Descriptor layer0 = Descriptor.of(MediaType.OCI_LAYER_GZIP, l0, store.size(l0));
    Descriptor layer1 = Descriptor.of(MediaType.OCI_LAYER_GZIP, l1, store.size(l1));
    Descriptor config = Descriptor.of(MediaType.OCI_CONFIG, cfg, store.size(cfg));
    byte[] mb = ("{\"schemaVersion\":2,\"config\":{\"digest\":\"" + cfg + "\"},\"x\":\"" + ref + salt + "\"}")
        .getBytes(StandardCharsets.UTF_8);
    Digest md = store.put(mb);
    Descriptor amd = new Descriptor(MediaType.OCI_MANIFEST, md, mb.length, Map.of(), Platform.LINUX_AMD64);
    Descriptor arm = new Descriptor(MediaType.OCI_MANIFEST, Digest.sha256((ref + "arm").getBytes()), 500, Map.of(),
        Platform.LINUX_ARM64);
    Descriptor att = new Descriptor(MediaType.OCI_MANIFEST, Digest.sha256((ref + "att").getBytes()), 300,
        Map.of("vnd.docker.reference.type", "attestation-manifest"), new Platform("unknown", "unknown", ""));
    Descriptor nested = Descriptor.of(MediaType.OCI_INDEX, Digest.sha256((ref + "nested").getBytes()), 200);
    byte[] ib = ("{\"manifests\":[],\"x\":\"" + ref + salt + "\"}").getBytes(StandardCharsets.UTF_8);
    Digest id = store.put(ib);
    Descriptor index = Descriptor.of(MediaType.OCI_INDEX, id, ib.length);
    ImageRecord rec = new ImageRecord(ImageRef.parse(ref).withDigest(id), index, List.of(amd, arm, att, nested),
        List.of(new ImageRecord.PlatformImage(Platform.LINUX_AMD64, amd, config, List.of(layer0, layer1))), "test");
    return new Fixture(store, rec);
  }

  static Map<String, String> labels(Bucket b) {
    Map<String, String> m = new TreeMap<>();
    if (b.child("labels") != null) {
      b.child("labels").entries().forEach((k, v) -> m.put(new String(k, StandardCharsets.UTF_8),
          new String((byte[]) v, StandardCharsets.UTF_8)));
    }
    return m;
  }

  static String str(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  @Test
  void threeNamesPerImageWithTheTargetAndCriLabels() throws IOException {
    ContentStore store = ContentStore.open(dir.resolve("cas"));
    Fixture pause = image("registry.k8s.io/pause:3.10.1", "a", store);
    Fixture proxy = image("registry.k8s.io/kube-proxy:v1.34.2", "b", store);
    StoreOptions o = StoreOptions.forContainerd("1.7", "registry.k8s.io/pause:3.10.1", Platform.LINUX_AMD64, T);
    Bucket root = ContainerdStore.metadata(List.of(pause.image(), proxy.image()), o);
    assertEquals("06", hex(root.child("v1").get("version")));
    Bucket images = root.child("v1").child("k8s.io").child("images");
    Descriptor target = pause.image().target();
    ImageRecord.PlatformImage node = pause.image().platforms().get(0);
    for (String name : List.of("registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause@" + target.digest(),
        node.config().digest().toString())) {
      Bucket img = images.child(name);
      assertEquals(target.digest().toString(), str(img.child("target").get("digest")), name);
      assertEquals(MediaType.OCI_INDEX, str(img.child("target").get("mediatype")));
      assertEquals(target.size(), Encoding.readVarint(img.child("target").get("size")));
      assertEquals(Map.of("io.cri-containerd.image", "managed", "io.cri-containerd.pinned", "pinned"), labels(img),
          "the sandbox image is pinned (1.7+)");
      assertArrayEquals(Encoding.time(T), img.get("createdat"));
    }
    assertEquals(Map.of("io.cri-containerd.image", "managed"), labels(images.child("registry.k8s.io/kube-proxy:v1.34.2")));
    assertEquals(6, images.entries().size());
  }

  @Test
  void contentRecordsCarryTheGcReferencesOfARealPull() throws IOException {
    ContentStore store = ContentStore.open(dir.resolve("cas"));
    Fixture f = image("quay.io/cilium/cilium:v1.19.3", "c", store);
    Fixture g = image("registry.k8s.io/pause:3.10.1", "d", store);
    Bucket root = ContainerdStore.metadata(List.of(f.image(), g.image()),
        StoreOptions.forContainerd("1.6", null, Platform.LINUX_AMD64, T));
    Bucket blobs = root.child("v1").child("k8s.io").child("content").child("blob");
    ImageRecord img = f.image();
    ImageRecord.PlatformImage node = img.platforms().get(0);
    Map<String, String> index = labels(blobs.child(img.target().digest().toString()));
    assertEquals(img.indexChildren().get(0).digest().toString(), index.get("containerd.io/gc.ref.content.m.0"));
    assertEquals(img.indexChildren().get(1).digest().toString(), index.get("containerd.io/gc.ref.content.m.1"),
        "other platforms' manifests are labelled too, as a real pull does");
    assertEquals(img.indexChildren().get(2).digest().toString(), index.get("containerd.io/gc.ref.content.m.2"));
    assertEquals(img.indexChildren().get(3).digest().toString(), index.get("containerd.io/gc.ref.content.0"),
        "a nested index child counts under its own prefix");
    Map<String, String> manifest = labels(blobs.child(node.manifest().digest().toString()));
    assertEquals(node.config().digest().toString(), manifest.get("containerd.io/gc.ref.content.config"));
    assertEquals(node.layers().get(0).digest().toString(), manifest.get("containerd.io/gc.ref.content.l.0"));
    assertEquals(node.layers().get(1).digest().toString(), manifest.get("containerd.io/gc.ref.content.l.1"));
    assertEquals("cilium/cilium", manifest.get("containerd.io/distribution.source.quay.io"));
    Map<String, String> shared = labels(blobs.child(node.layers().get(0).digest().toString()));
    assertEquals("cilium/cilium", shared.get("containerd.io/distribution.source.quay.io"));
    assertEquals("pause", shared.get("containerd.io/distribution.source.registry.k8s.io"),
        "a blob shared by images of two registries names its repository in each");
    assertNull(blobs.child(img.indexChildren().get(1).digest().toString()), "only the node platform's blobs are stored");
    assertEquals(store.size(node.config().digest()), Encoding.readVarint(blobs.child(node.config().digest().toString()).get("size")));
    assertEquals(List.of(), BoltChecker.check(BoltWriter.write(root)));
    assertEquals(Map.of("io.cri-containerd.image", "managed"),
        labels(root.child("v1").child("k8s.io").child("images").child("registry.k8s.io/pause:3.10.1")),
        "containerd 1.6 has no pinned label");
  }

  @Test
  void containerd2GetsMetadataVersion4() throws IOException {
    ContentStore store = ContentStore.open(dir.resolve("cas"));
    Fixture f = image("registry.k8s.io/pause:3.10.1", "e", store);
    StoreOptions o = StoreOptions.forContainerd("2.2", "registry.k8s.io/pause:3.10.1", Platform.LINUX_AMD64, T);
    assertEquals(4, o.metadataVersion());
    assertEquals("08", hex(ContainerdStore.metadata(List.of(f.image()), o).child("v1").get("version")));
    assertEquals(3, StoreOptions.forContainerd("1.7", null, Platform.LINUX_AMD64, T).metadataVersion());
  }

  @Test
  void missingPlatformAndConflictingNamesAreErrors() throws IOException {
    ContentStore store = ContentStore.open(dir.resolve("cas"));
    Fixture f = image("registry.k8s.io/pause:3.10.1", "f", store);
    IOException e = assertThrows(IOException.class, () -> ContainerdStore.metadata(List.of(f.image()),
        StoreOptions.forContainerd("2.2", null, Platform.LINUX_ARM64, T)));
    assertTrue(e.getMessage().contains("has no linux/arm64 image"), e.getMessage());
    Fixture other = image("registry.k8s.io/pause:3.10.1", "g", store);
    IOException c = assertThrows(IOException.class, () -> ContainerdStore.metadata(List.of(f.image(), other.image()),
        StoreOptions.forContainerd("2.2", null, Platform.LINUX_AMD64, T)));
    assertTrue(c.getMessage().contains("would point at both"), c.getMessage());
  }

  @Test
  void theTarStreamAndTheDirectoryHoldTheSameTreeAndBytesRepeat() throws Exception {
    ContentStore store = ContentStore.open(dir.resolve("cas"));
    List<ImageRecord> images = List.of(image("registry.k8s.io/pause:3.10.1", "h", store).image(),
        image("docker.io/library/busybox:1.36", "i", store).image());
    StoreOptions o = StoreOptions.forContainerd("2.2", "registry.k8s.io/pause:3.10.1", Platform.LINUX_AMD64, T);
    Path root = dir.resolve("root");
    ContainerdStore.write(images, o, store, new DirectoryWriter(root, store), "", null);
    Path tar = dir.resolve("store.tar");
    for (Path t : List.of(tar, dir.resolve("again.tar"))) {
      try (FileChannel ch = FileChannel.open(t, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          TarWriter w = new TarWriter(ch, store, 0)) {
        ContainerdStore.write(images, o, store, w, "var/lib/containerd", null);
      }
    }
    assertEquals(-1L, Files.mismatch(tar, dir.resolve("again.tar")), "same inputs, same bytes");
    Map<String, String> fromTar = new TreeMap<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(tar))) {
      for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        String name = e.getName().replaceFirst("^var/lib/containerd/?", "").replaceAll("/$", "");
        if (!name.isEmpty()) {
          fromTar.put(name, Integer.toOctalString(e.getMode() & 07777) + (e.isDirectory() ? "" : " "
              + hex(Digest.sha256(in.readAllBytes()).encoded().getBytes())));
        }
        assertEquals(0, e.getLongUserId());
      }
    }
    Map<String, String> fromDir = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.filter(p -> !p.equals(root)).toList()) {
        int mode = modeOf(p);
        fromDir.put(root.relativize(p).toString(), Integer.toOctalString(mode) + (Files.isDirectory(p) ? ""
            : " " + hex(Digest.sha256(Files.readAllBytes(p)).encoded().getBytes())));
      }
    }
    assertEquals(fromDir, fromTar);
    assertTrue(fromTar.get("io.containerd.metadata.v1.bolt/meta.db").startsWith("644 "));
    assertTrue(fromTar.entrySet().stream().filter(e -> e.getKey().contains("blobs/sha256/"))
        .allMatch(e -> e.getValue().startsWith("444 ")), "blob files are 0444 as containerd writes them");
    assertEquals(List.of(), BoltChecker.check(root.resolve("io.containerd.metadata.v1.bolt/meta.db")));
  }

  static int modeOf(Path p) throws IOException {
    int m = 0;
    for (var perm : Files.getPosixFilePermissions(p)) {
      m |= 1 << (8 - perm.ordinal());
    }
    return m;
  }

  @Test
  void seedingAnExistingRootKeepsItsRecords() throws Exception {
    ContentStore store = ContentStore.open(dir.resolve("cas"));
    Bucket theirs = new Bucket();
    theirs.bucket("v1").put("version", Encoding.varint(3)).bucket("default").bucket("images")
        .bucket("docker.io/library/nginx:1.27").put("createdat", Encoding.time(T));
    Path root = dir.resolve("root");
    ContainerdStore.write(List.of(image("registry.k8s.io/pause:3.10.1", "j", store).image()),
        StoreOptions.forContainerd("1.7", null, Platform.LINUX_AMD64, T), store, new DirectoryWriter(root, store), "",
        BoltWriter.write(theirs));
    Bucket merged = BoltReader.read(root.resolve("io.containerd.metadata.v1.bolt/meta.db"));
    assertTrue(merged.child("v1").child("default").child("images").child("docker.io/library/nginx:1.27") != null);
    assertTrue(merged.child("v1").child("k8s.io").child("images").child("registry.k8s.io/pause:3.10.1") != null);
  }
}
