package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.testworld.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A partition's sha256 computed on the host (what the reproduction decision compares) against
 * the bytes themselves: a raw disk of known content, its qcow2 conversion, and an overlay on
 * that qcow2 with a path that needs quoting in qemu's JSON file name.
 */
class QemuImgTest {
  @TempDir
  Path tmp;

  @Test
  void hashesAByteRangeThroughTheFormatAndItsBackingChain() throws Exception {
    byte[] disk = new byte[8 << 20];
    new Random(7).nextBytes(disk);
    Arrays.fill(disk, 5 << 20, 6 << 20, (byte) 0); // a zero run (reads back sparse from the convert)
    Path dir = Files.createDirectories(tmp.resolve("a \"quoted\" dir\\"));
    Path raw = dir.resolve("disk.raw");
    Files.write(raw, disk);
    Path qcow2 = dir.resolve("disk.qcow2");
    Tools.run(List.of("qemu-img", "convert", "-O", "qcow2", raw.toString(), qcow2.toString()), tmp, 60).ok();
    Path overlay = dir.resolve("overlay.qcow2");
    Tools.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", qcow2.toString(),
        overlay.toString(), "16M"), tmp, 60).ok();
    long offset = 1 << 20;
    long size = (5L << 20) + 512;
    String expected = Digest.sha256(Arrays.copyOfRange(disk, (int) offset, (int) (offset + size))).encoded();
    Path scratch = tmp.resolve("partition.raw");
    assertEquals(expected, QemuImg.rangeSha256(raw, "raw", offset, size, scratch));
    assertEquals(expected, QemuImg.rangeSha256(qcow2, "qcow2", offset, size, scratch));
    assertEquals(expected, QemuImg.rangeSha256(overlay, "qcow2", offset, size, scratch));
    assertFalse(Files.exists(scratch), "the scratch copy is removed");
    assertNotEquals(expected, QemuImg.rangeSha256(overlay, "qcow2", offset + 512, size, scratch));
  }
}
