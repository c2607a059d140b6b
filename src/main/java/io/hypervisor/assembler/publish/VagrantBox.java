package io.hypervisor.assembler.publish;

import io.hypervisor.assembler.content.HashingChannel;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.TreeMap;

/**
 * A Vagrant box for the libvirt provider (vagrant-libvirt's box format, version 1): an
 * uncompressed tar of {@code metadata.json} (provider, format, virtual size in whole GiB), a
 * {@code Vagrantfile} and {@code box.img}, the qcow2 itself. Written under a temporary name and
 * renamed when complete; owners 0:0, times from the build's epoch, so the same image gives the
 * same box.
 */
public final class VagrantBox {
  /** The provider this box is for; vagrant refuses a box whose metadata names another. */
  public static final String PROVIDER = "libvirt";

  private VagrantBox() {}

  /** metadata.json: what vagrant-libvirt reads (virtual_size is in GiB, rounded up). */
  static String metadata(long virtualBytes) {
    long gib = (virtualBytes + (1L << 30) - 1) >> 30;
    return "{\"provider\":\"" + PROVIDER + "\",\"format\":\"qcow2\",\"virtual_size\":" + gib + "}\n";
  }

  /** The box's Vagrantfile: libvirt with KVM, the node's own cloud-init does the rest. */
  static String vagrantfile() {
    return """
        # A Kubernetes node image made by assemble; cloud-init configures it at first boot.
        Vagrant.configure("2") do |config|
          config.vm.provider :libvirt do |libvirt|
            libvirt.driver = "kvm"
          end
        end
        """;
  }

  /** The box written: its size and sha256 (hashed while written). */
  public record Written(long size, Digest sha256) {}

  /** Writes {@code box} from {@code image} (a qcow2 of {@code virtualBytes}). */
  public static Written write(Path image, long virtualBytes, long epoch, Path box) throws IOException {
    Path tmp = box.resolveSibling("." + box.getFileName() + ".partial");
    Digest digest;
    try (FileChannel file = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE); FileChannel img = FileChannel.open(image, StandardOpenOption.READ)) {
      HashingChannel out = new HashingChannel(file);
      TarWriter tar = new TarWriter(out, null, epoch);
      tar.file("metadata.json", 0644, metadata(virtualBytes).getBytes(StandardCharsets.UTF_8));
      tar.file("Vagrantfile", 0644, vagrantfile().getBytes(StandardCharsets.UTF_8));
      tar.entry(new TarWriter.Entry("box.img", '0', 0644, 0, 0, epoch, 0, null, 0, 0, new TreeMap<>()), img.size(),
          img, 0);
      tar.finish();
      file.force(true);
      digest = out.digest();
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    long size = Files.size(tmp);
    Files.move(tmp, box, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return new Written(size, digest);
  }
}
