package io.hypervisor.assembler.oci.layout;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.Wire;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes images from the content store as an OCI layout: a tar stream or a directory. Blobs are
 * written once however many images share them, streamed from the store, in a stable order with
 * fixed owners and times, so the same images give the same bytes.
 */
public final class LayoutWriter {
  public static final String CONTAINERD_NAME = "io.containerd.image.name";
  public static final String REF_NAME = "org.opencontainers.image.ref.name";
  private static final long MTIME = 0;

  private LayoutWriter() {}

  /** The index.json entry of an image: its original descriptor plus the two name annotations. */
  static Descriptor entry(ImageRecord img) {
    Map<String, String> a = new LinkedHashMap<>(img.target().annotations());
    a.put(CONTAINERD_NAME, img.ref().tagged() != null ? img.ref().tagged() : img.ref().digested());
    if (img.ref().tag() != null) {
      a.put(REF_NAME, img.ref().tag());
    }
    return img.target().withAnnotations(a);
  }

  public static byte[] indexJson(List<ImageRecord> images) throws IOException {
    List<Wire.DescriptorJson> manifests = new ArrayList<>();
    for (ImageRecord i : images) {
      manifests.add(Wire.DescriptorJson.of(entry(i)));
    }
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", io.hypervisor.assembler.model.MediaType.OCI_INDEX);
    index.put("manifests", manifests);
    return Wire.write(index);
  }

  /** docker's manifest.json: one entry per image (its first platform), paths into blobs/. */
  static byte[] dockerManifest(List<ImageRecord> images) throws IOException {
    List<Wire.DockerSaveEntry> out = new ArrayList<>();
    for (ImageRecord i : images) {
      if (i.platforms().isEmpty()) {
        continue;
      }
      ImageRecord.PlatformImage p = i.platforms().get(0);
      out.add(new Wire.DockerSaveEntry(blobPath(p.config()),
          i.ref().tagged() == null ? List.of() : List.of(i.ref().tagged()),
          p.layers().stream().map(LayoutWriter::blobPath).toList()));
    }
    return Wire.write(out);
  }

  public static String blobPath(Descriptor d) {
    return "blobs/" + d.digest().algorithm() + "/" + d.digest().encoded();
  }

  /** Every blob of the images, each once, in first-use order. */
  public static List<Descriptor> blobs(List<ImageRecord> images) {
    Set<String> seen = new LinkedHashSet<>();
    List<Descriptor> out = new ArrayList<>();
    for (ImageRecord i : images) {
      for (Descriptor d : i.blobs()) {
        if (seen.add(d.digest().toString())) {
          out.add(d);
        }
      }
    }
    return out;
  }

  /** Writes the images as one OCI layout tar to {@code out} (not closed). */
  public static void writeTar(List<ImageRecord> images, ContentStore store, OutputStream out) throws IOException {
    writeTar(images, store, Channels.newChannel(out));
    out.flush();
  }

  /** Writes the images as one OCI layout tar to a channel (not closed). */
  public static void writeTar(List<ImageRecord> images, ContentStore store, WritableByteChannel ch) throws IOException {
    TarWriter tar = new TarWriter(ch, store, MTIME);
    tar.file("oci-layout", 0644, "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    tar.directory("blobs", 0755);
    tar.directory("blobs/sha256", 0755);
    for (Descriptor d : blobs(images)) {
      if (store.size(d.digest()) != d.size()) {
        throw new IOException("blob " + d.digest() + " is not in the content store with " + d.size() + " bytes");
      }
      tar.blob(blobPath(d), 0644, d.digest());
    }
    tar.file("index.json", 0644, indexJson(images));
    tar.file("manifest.json", 0644, dockerManifest(images));
    tar.finish();
  }

  /** Writes an OCI layout tar file; the file appears under its name only when complete. */
  public static void writeTar(List<ImageRecord> images, ContentStore store, Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = Files.createTempFile(parent, "." + file.getFileName(), ".partial");
    try {
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp,
          java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
        writeTar(images, store, ch);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Writes (or adds to) an OCI layout directory. */
  public static void writeDirectory(List<ImageRecord> images, ContentStore store, Path dir) throws IOException {
    Files.createDirectories(dir.resolve("blobs/sha256"));
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    for (Descriptor d : blobs(images)) {
      Path target = dir.resolve(blobPath(d));
      if (Files.exists(target) && Files.size(target) == d.size()) {
        continue;
      }
      Path tmp = target.resolveSibling("." + target.getFileName() + ".partial");
      try (InputStream in = store.openVerified(d.digest(), d.size())) {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      }
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
    List<ImageRecord> all = new ArrayList<>(images);
    Files.write(dir.resolve("index.json"), indexJson(all));
    Files.write(dir.resolve("manifest.json"), dockerManifest(all));
  }

}
