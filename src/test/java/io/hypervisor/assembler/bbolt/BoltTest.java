package io.hypervisor.assembler.bbolt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The bbolt writer, reader and checker against the format's facts and against each other. */
class BoltTest {
  static ByteBuffer le(byte[] b) {
    return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
  }

  @Test
  void theSpecsMinimalExampleByteForByte() {
    Bucket root = new Bucket();
    root.bucket("v1").put("version", new byte[] {0x06});
    byte[] f = BoltWriter.write(root);
    assertEquals(16384, f.length);
    ByteBuffer b = le(f);
    assertEquals(0x07516e114689fdeeL, b.getLong(0x48), "meta 0 checksum as in containerd-store.md §1.11");
    assertEquals(0x264c351a5179480fL, b.getLong(0x1000 + 0x48), "meta 1 checksum");
    assertEquals("edda0ced", HexFormat.of().formatHex(f, 0x10, 0x14));
    assertEquals(3, b.getLong(0x20), "root page");
    assertEquals(2, b.getLong(0x30), "freelist page");
    assertEquals(4, b.getLong(0x38), "high-water mark");
    assertEquals("02000000000000001000000000000000", HexFormat.of().formatHex(f, 0x2000, 0x2010), "empty freelist");
    assertEquals("03000000000000000200010000000000", HexFormat.of().formatHex(f, 0x3000, 0x3010), "root leaf");
    assertEquals("01000000" + "10000000" + "02000000" + "38000000", HexFormat.of().formatHex(f, 0x3010, 0x3020));
    assertEquals("7631", HexFormat.of().formatHex(f, 0x3020, 0x3022), "\"v1\"");
    assertEquals("00000000000000000000000000000000" + "00000000000000000200010000000000"
        + "00000000100000000700000001000000" + "76657273696f6e06", HexFormat.of().formatHex(f, 0x3022, 0x305a),
        "inline bucket: header, fake leaf page, element, \"version\" 06");
    assertEquals(List.of(), BoltChecker.check(f));
  }

  /**
   * A random tree as bbolt can hold it (the root holds only buckets): deep nesting, many keys, big
   * values (overflow), empty and inline buckets.
   */
  static Bucket randomTree(Random r) {
    Bucket root = new Bucket();
    int n = 1 + r.nextInt(4);
    for (int i = 0; i < n; i++) {
      copy(randomTree(r, 0), root.bucket("bucket-" + i));
    }
    return root;
  }

  static Bucket randomTree(Random r, int depth) {
    Bucket b = new Bucket().sequence(r.nextInt(1000));
    int n = r.nextInt(depth == 0 ? 400 : 40);
    for (int i = 0; i < n; i++) {
      byte[] key = new byte[1 + r.nextInt(r.nextInt(10) == 0 ? 300 : 24)];
      r.nextBytes(key);
      if (depth < 4 && r.nextInt(12) == 0) {
        Bucket sub = randomTree(r, depth + 1);
        try {
          b.entries();
          Bucket target = b.bucket(key);
          copy(sub, target);
        } catch (IllegalArgumentException clash) {
          // a value already has this key
        }
      } else {
        byte[] v = new byte[r.nextInt(40) == 0 ? 4096 + r.nextInt(9000) : r.nextInt(200)];
        r.nextBytes(v);
        try {
          b.put(key, v);
        } catch (IllegalArgumentException clash) {
          // a bucket already has this key
        }
      }
    }
    return b;
  }

  static void copy(Bucket from, Bucket to) {
    to.sequence(from.sequence());
    from.entries().forEach((k, v) -> {
      if (v instanceof Bucket sb) {
        copy(sb, to.bucket(k));
      } else {
        to.put(k, (byte[]) v);
      }
    });
  }

  @RepeatedTest(12)
  void randomTreesRoundTripAndCheckClean() throws Exception {
    Random r = new Random(System.nanoTime());
    Bucket tree = randomTree(r);
    tree.bucket("empty");
    byte[] f = BoltWriter.write(tree);
    assertEquals(List.of(), BoltChecker.check(f));
    assertEquals(tree, BoltReader.read(f));
    assertArrayEquals(f, BoltWriter.write(BoltReader.read(f)), "deterministic");
  }

  @Test
  void largeBucketsGetSeveralBranchLevels() throws Exception {
    Bucket root = new Bucket();
    Bucket big = root.bucket("big");
    for (int i = 0; i < 60_000; i++) {
      big.put(String.format("key-%08d-%s", i, "x".repeat(40)), new byte[] {(byte) i});
    }
    byte[] f = BoltWriter.write(root);
    assertEquals(List.of(), BoltChecker.check(f));
    assertEquals(root, BoltReader.read(f));
    long rootPage = le(f).getLong(0x20);
    PageView rootLeaf = new PageView(f, (int) (rootPage * 4096), (int) (rootPage * 4096) + 4096);
    long bigRoot = le(f).getLong(rootLeaf.valueStart(0));
    assertEquals(Format.BRANCH, (short) le(f).getShort((int) (bigRoot * 4096) + 8));
    int count = le(f).getShort((int) (bigRoot * 4096) + 10) & 0xffff;
    long firstChild = le(f).getLong((int) (bigRoot * 4096) + 16 + 8);
    assertEquals(Format.BRANCH, le(f).getShort((int) (firstChild * 4096) + 8), "two branch levels over "
        + count + " children");
  }

  @Test
  void theCheckerFindsWhatBboltWouldPanicOn() {
    Bucket root = new Bucket();
    Bucket images = root.bucket("v1").bucket("k8s.io").bucket("images");
    for (int i = 0; i < 200; i++) {
      images.bucket("registry.example/image-" + i).put("createdat", new byte[15]);
    }
    byte[] good = BoltWriter.write(root);
    assertEquals(List.of(), BoltChecker.check(good));

    byte[] checksum = good.clone();
    checksum[0x48] ^= 1;
    checksum[0x1048] ^= 1;
    assertTrue(BoltChecker.check(checksum).stream().anyMatch(p -> p.contains("checksum mismatch")));

    byte[] pageId = good.clone();
    le(pageId).putLong(5 * 4096, 77);
    assertTrue(BoltChecker.check(pageId).stream().anyMatch(p -> p.contains("header says page 77")), BoltChecker.check(pageId).toString());

    byte[] unsorted = good.clone();
    int leaf = findLeafWithKeys(unsorted);
    // Swap the first byte of two adjacent keys' data on a leaf so their order breaks.
    PageView p = new PageView(unsorted, leaf, leaf + 4096);
    int k0 = (int) p.keyStart(0, true);
    int k1 = (int) p.keyStart(1, true);
    byte t = unsorted[k0];
    unsorted[k0] = (byte) 0xff;
    unsorted[k1] = t;
    assertTrue(BoltChecker.check(unsorted).stream().anyMatch(q -> q.contains("is not after") || q.contains("below")),
        BoltChecker.check(unsorted).toString());

    byte[] unreachable = java.util.Arrays.copyOf(good, good.length + 4096);
    ByteBuffer u = le(unreachable);
    long hw = u.getLong(0x38);
    for (int m = 0; m < 2; m++) {
      int off = m * 4096 + 16;
      u.putLong(off + 40, hw + 1);
      u.putLong(off + 56, Format.fnv1a64(unreachable, off, 56));
    }
    assertTrue(BoltChecker.check(unreachable).contains("page " + hw + ": unreachable unfreed"));

    // The same file as containerd >= 1.7 commits it (NoFreelistSync: no freelist stored): its
    // unreachable pages, the old freelist page among them, are the free ones bbolt rebuilds.
    byte[] noFreelist = unreachable.clone();
    ByteBuffer n = le(noFreelist);
    for (int m = 0; m < 2; m++) {
      int off = m * 4096 + 16;
      n.putLong(off + 32, Format.NO_FREELIST);
      n.putLong(off + 56, Format.fnv1a64(noFreelist, off, 56));
    }
    assertEquals(List.of(), BoltChecker.check(noFreelist));
  }

  static int findLeafWithKeys(byte[] f) {
    for (int base = 3 * 4096; base < f.length; base += 4096) {
      PageView p = new PageView(f, base, base + 4096);
      if (p.flags() == Format.LEAF && p.count() > 5) {
        return base;
      }
    }
    throw new AssertionError("no leaf");
  }

  @Test
  void theRootHoldsOnlyBuckets() {
    Bucket root = new Bucket();
    root.put("value", new byte[1]);
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> BoltWriter.write(root));
  }

  @Test
  void keysCompareAsUnsignedBytes() throws Exception {
    Bucket root = new Bucket();
    Bucket b = root.bucket("b");
    b.put(new byte[] {(byte) 0x80}, new byte[0]);
    b.put(new byte[] {0x7f}, new byte[0]);
    byte[] f = BoltWriter.write(root);
    Bucket back = BoltReader.read(f);
    assertArrayEquals(new byte[] {0x7f}, back.child("b").entries().firstKey());
    assertEquals(List.of(), BoltChecker.check(f));
  }
}
