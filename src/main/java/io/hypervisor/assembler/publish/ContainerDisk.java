package io.hypervisor.assembler.publish;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervisor.assembler.content.HashingChannel;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.TreeMap;

/**
 * A KubeVirt containerDisk made from a qcow2: an ordinary OCI image (so kubelet and containerd
 * pull it) whose one uncompressed layer holds {@code disk/<name>} owned by 107:107 (the qemu user
 * of virt-launcher), mode 0440, with every time from the build's epoch; config and manifest
 * written with a fixed field order. The same image and epoch give the same digests.
 */
public final class ContainerDisk {
  static final String MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String CONFIG = "application/vnd.oci.image.config.v1+json";
  static final String LAYER = "application/vnd.oci.image.layer.v1.tar";
  /** virt-launcher's qemu user and group. */
  static final int QEMU = 107;

  /** The built image: its layer (a file), config and manifest bytes, and their digests. */
  public record Built(Path layer, Digest layerDigest, long layerSize, byte[] config, Digest configDigest,
      byte[] manifest, Digest manifestDigest) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private ContainerDisk() {}

  /** Writes the layer of {@code image} into {@code dir} and makes config and manifest for {@code platform} (os/arch). */
  public static Built build(Path image, String platform, long epoch, Path dir) throws IOException {
    String[] p = platform.split("/");
    if (p.length < 2) {
      throw new IOException("platform " + platform + " is not os/architecture");
    }
    Path layer = dir.resolve("layer.tar");
    Digest layerDigest;
    try (FileChannel file = FileChannel.open(layer, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE); FileChannel in = FileChannel.open(image, StandardOpenOption.READ)) {
      // hashed as it is written: the layer is read again only to be uploaded
      HashingChannel out = new HashingChannel(file);
      TarWriter tar = new TarWriter(out, null, epoch);
      tar.entry(new TarWriter.Entry("disk/", '5', 0555, QEMU, QEMU, epoch, 0, null, 0, 0, new TreeMap<>()), 0, null, 0);
      tar.entry(new TarWriter.Entry("disk/" + image.getFileName(), '0', 0440, QEMU, QEMU, epoch, 0, null, 0, 0,
          new TreeMap<>()), in.size(), in, 0);
      tar.finish();
      layerDigest = out.digest();
    }
    long layerSize = Files.size(layer);
    String created = Instant.ofEpochSecond(epoch).toString();

    ObjectNode config = JSON.createObjectNode();
    config.put("created", created);
    config.put("architecture", p[1]);
    if (p.length > 2) {
      config.put("variant", p[2]);
    }
    config.put("os", p[0]);
    config.putObject("config");
    ObjectNode rootfs = config.putObject("rootfs");
    rootfs.put("type", "layers");
    rootfs.putArray("diff_ids").add(layerDigest.toString());
    config.putArray("history").addObject().put("created", created)
        .put("created_by", "assemble publish: KubeVirt containerDisk of " + image.getFileName());
    byte[] configBytes = JSON.writeValueAsBytes(config);
    Digest configDigest = Digest.sha256(configBytes);

    ObjectNode m = JSON.createObjectNode();
    m.put("schemaVersion", 2);
    m.put("mediaType", MANIFEST);
    ObjectNode c = m.putObject("config");
    c.put("mediaType", CONFIG).put("digest", configDigest.toString()).put("size", configBytes.length);
    m.putArray("layers").addObject().put("mediaType", LAYER).put("digest", layerDigest.toString())
        .put("size", layerSize);
    m.putObject("annotations").put("org.opencontainers.image.created", created)
        .put("org.opencontainers.image.title", image.getFileName().toString());
    byte[] manifest = JSON.writeValueAsBytes(m);
    return new Built(layer, layerDigest, layerSize, configBytes, configDigest, manifest, Digest.sha256(manifest));
  }
}
