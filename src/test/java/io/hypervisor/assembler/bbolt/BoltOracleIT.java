package io.hypervisor.assembler.bbolt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Tools;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our checker and bbolt's own (fixtures/bbolt-check, Debian's bbolt 1.3.6) agree, file by file. */
@Tag("integration")
class BoltOracleIT {
  @TempDir
  Path tmp;

  static List<String> oracle(Path f) {
    Tools.Result r = Tools.run(List.of(Fixtures.part("bbolt-check").resolve("bbolt-check").toString(), f.toString()));
    List<String> out = new ArrayList<>(r.out().lines().filter(l -> !l.endsWith(": ok")).toList());
    if (r.code() != 0 && out.isEmpty()) {
      out.add("exit " + r.code() + ": " + r.err());
    }
    return out;
  }

  @Test
  void randomTreesAreCleanUnderBothCheckers() throws Exception {
    Random r = new Random(20261121);
    for (int i = 0; i < 15; i++) {
      Bucket tree = BoltTest.randomTree(r);
      Path f = tmp.resolve("random-" + i + ".db");
      Files.write(f, BoltWriter.write(tree));
      assertEquals(List.of(), oracle(f), "bbolt's Check on " + f);
      assertEquals(List.of(), BoltChecker.check(f));
      assertEquals(tree, BoltReader.read(f));
      Files.delete(f);
    }
  }

  /** A database big enough to have branch pages, overflow values and inline buckets. */
  static byte[] sample() {
    Bucket root = new Bucket();
    Bucket images = root.bucket("v1").bucket("k8s.io").bucket("images");
    for (int i = 0; i < 300; i++) {
      Bucket img = images.bucket(String.format("registry.example/image-%04d:v1", i));
      img.put("createdat", new byte[15]).bucket("target").put("digest", "sha256:" + "a".repeat(64));
    }
    root.bucket("v1").put("big", new byte[9000]);
    return BoltWriter.write(root);
  }

  @Test
  void bothCheckersRejectTheSameBrokenFiles() throws Exception {
    byte[] good = sample();
    Path g = tmp.resolve("good.db");
    Files.write(g, good);
    assertEquals(List.of(), oracle(g));
    assertEquals(List.of(), BoltChecker.check(g));

    List<byte[]> broken = new ArrayList<>();
    List<String> names = new ArrayList<>();
    byte[] checksum = good.clone();
    checksum[0x48] ^= 1;
    checksum[0x1048] ^= 1;
    broken.add(checksum);
    names.add("bad checksum");
    byte[] pageId = good.clone();
    ByteBuffer.wrap(pageId).order(ByteOrder.LITTLE_ENDIAN).putLong(6 * 4096, 99);
    broken.add(pageId);
    names.add("wrong page id");
    byte[] unsorted = good.clone();
    int leaf = BoltTest.findLeafWithKeys(unsorted);
    PageView p = new PageView(unsorted, leaf, leaf + 4096);
    unsorted[(int) p.keyStart(0, true)] = (byte) 0xff;
    broken.add(unsorted);
    names.add("unsorted keys");
    byte[] unreachable = java.util.Arrays.copyOf(good, good.length + 4096);
    ByteBuffer u = ByteBuffer.wrap(unreachable).order(ByteOrder.LITTLE_ENDIAN);
    long hw = u.getLong(0x38);
    for (int m = 0; m < 2; m++) {
      int off = m * 4096 + 16;
      u.putLong(off + 40, hw + 1);
      u.putLong(off + 56, Format.fnv1a64(unreachable, off, 56));
    }
    broken.add(unreachable);
    names.add("unreachable page");
    for (int i = 0; i < broken.size(); i++) {
      Path f = tmp.resolve("broken-" + i + ".db");
      Files.write(f, broken.get(i));
      List<String> theirs = oracle(f);
      List<String> ours = BoltChecker.check(f);
      assertFalse(theirs.isEmpty(), names.get(i) + ": bbolt-check found nothing");
      assertTrue(theirs.stream().noneMatch(t -> t.contains("panic")), names.get(i) + ": the oracle itself failed: " + theirs);
      assertFalse(ours.isEmpty(), names.get(i) + ": our checker found nothing, bbolt found " + theirs);
    }
  }
}
