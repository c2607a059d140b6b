package io.hypervisor.assembler.publish;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Vagrant box against Debian's vagrant with vagrant-libvirt: {@code vagrant box add} takes it
 * into a private {@code VAGRANT_HOME}, {@code vagrant box list} shows it for the libvirt provider,
 * and the {@code box.img} vagrant unpacked hashes to the image. Written twice, at different
 * times, it is the same bytes.
 */
public class VagrantBoxTest {
  @TempDir
  Path tmp;

  /** Adds {@code box} to vagrant in {@code home} and checks what vagrant made of it against {@code image}. */
  public static void addedByVagrant(Path box, Path image, Path home) {
    Tools.Result add = Tools.run(List.of("env", "VAGRANT_HOME=" + home, "VAGRANT_CHECKPOINT_DISABLE=1", "vagrant",
        "box", "add", "--name", "assemble/test-node", box.toString()), home, 600).ok();
    assertTrue(add.out().contains("Successfully added box 'assemble/test-node' (v0) for 'libvirt'"), add.out());
    String list = Tools.run(List.of("env", "VAGRANT_HOME=" + home, "VAGRANT_CHECKPOINT_DISABLE=1", "vagrant", "box",
        "list"), home, 600).ok().out();
    assertTrue(list.contains("assemble/test-node (libvirt, 0)"), list);
    Path img;
    try (Stream<Path> s = Files.walk(home.resolve("boxes"))) {
      img = s.filter(p -> p.getFileName().toString().equals("box.img")).findFirst().orElseThrow();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    assertEquals(sha256(image), sha256(img), "box.img is the image");
  }

  private static String sha256(Path f) {
    return Tools.run(List.of("sha256sum", f.toString()), f.getParent(), 600).ok().out().split(" ")[0];
  }

  @Test
  void vagrantTakesTheBoxAndTheSameImageGivesTheSameBytes() throws Exception {
    Path image = tmp.resolve("node.qcow2");
    Tools.run(List.of("qemu-img", "create", "-f", "qcow2", image.toString(), "3G"), tmp, 60).ok();
    Path a = tmp.resolve("a.box");
    Path b = tmp.resolve("b.box");
    VagrantBox.write(image, 3L << 30, 1_700_000_000L, a);
    Thread.sleep(1100);
    VagrantBox.write(image, 3L << 30, 1_700_000_000L, b);
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
    assertEquals(List.of("Vagrantfile", "box.img", "metadata.json"), Tools.run(List.of("tar", "-tf", a.toString()),
        tmp, 60).ok().out().lines().sorted().toList());
    assertEquals("{\"provider\":\"libvirt\",\"format\":\"qcow2\",\"virtual_size\":3}",
        Tools.run(List.of("tar", "-xOf", a.toString(), "metadata.json"), tmp, 60).ok().out().strip());
    addedByVagrant(a, image, Files.createDirectories(tmp.resolve("vagrant-home")));
  }
}
