package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.events.Event;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.tree.Ext4Rebuild;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The "bytes or tree" decision after finish, on real qcow2 disks: a build that changed only the
 * root keeps "bytes"; one that changed a byte of another partition (as a step writing the ESP
 * would) falls back to "tree", names that partition and says so.
 */
class ReproductionTest {
  private static final int MIB = 1 << 20;
  private static final List<ImageSession.Partition> PARTITIONS = List.of(
      new ImageSession.Partition("/dev/sda15", 15, MIB, MIB, "vfat"),
      new ImageSession.Partition("/dev/sda1", 1, 2 * MIB, 4 * MIB, "ext4"),
      new ImageSession.Partition("/dev/sda14", 14, 6 * MIB, MIB, "unknown"));

  @TempDir
  Path tmp;

  private Path qcow2(String name, byte[] disk) throws Exception {
    Path raw = tmp.resolve(name + ".raw");
    Files.write(raw, disk);
    Path q = tmp.resolve(name + ".qcow2");
    Tools.run(List.of("qemu-img", "convert", "-O", "qcow2", raw.toString(), q.toString()), tmp, 60).ok();
    return q;
  }

  @Test
  void aChangeOutsideTheRootMakesTheImageReproducibleAsATreeOnly() throws Exception {
    byte[] base = new byte[8 * MIB];
    new Random(11).nextBytes(base);
    Map<String, String> before = Assembler.outsideRoot(qcow2("base", base), "qcow2", PARTITIONS, "/dev/sda1", tmp);
    assertEquals(List.of("/dev/sda14", "/dev/sda15"), List.copyOf(before.keySet()), "all but the root");
    Ext4Rebuild.Params params = new Ext4Rebuild.Params("u", "root", "s", "half_md4", List.of(), 4096, 256, 1, 1, 0, 1,
        16, 4, "continue", "");
    Assembler.Reproduction pending = new Assembler.Reproduction(null, params, PARTITIONS.get(1), null, PARTITIONS);
    List<String> warned = new ArrayList<>();
    EventSink events = new EventSink() {
      @Override
      public void emit(Event e) {
        warned.add(e.toString());
      }
    };

    byte[] rootOnly = base.clone();
    rootOnly[3 * MIB] ^= 1;
    assertSame(pending, Assembler.confirmed(pending, qcow2("root-only", rootOnly), before, tmp, events));
    assertEquals(List.of(), warned);

    byte[] esp = base.clone();
    esp[MIB + 4096] ^= 1; // inside /dev/sda15
    Assembler.Reproduction r = Assembler.confirmed(pending, qcow2("esp", esp), before, tmp, events);
    assertFalse(r.bytes());
    assertEquals("the build changed the disk outside the root file system (partitions /dev/sda15)", r.reason());
    assertEquals(1, warned.size());
    assertTrue(warned.get(0).contains("reproducible as a tree, not byte for byte"), warned.toString());
    assertFalse(Files.exists(tmp.resolve("partition.raw")), "the scratch file is removed");
  }
}
