package io.hypervisor.assembler.bbolt;

import static io.hypervisor.assembler.bbolt.Format.PAGE_SIZE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks a bbolt file the way bbolt's {@code tx.Check()} and containerd ≥ 1.7's
 * {@code freepages()} do (a failure there panics containerd at start): metas valid, every page
 * below the high-water mark reachable exactly once or free, page ids equal to their position,
 * exactly one page type flag, elements inside their pages, keys strictly increasing and within
 * the range their parent branch gives, no sub-bucket inside an inline bucket. Returns every
 * problem found, empty when the file is clean.
 */
public final class BoltChecker {
  private final byte[] file;
  private final List<String> problems = new ArrayList<>();
  private final Map<Long, Long> reachable = new HashMap<>();
  private long highWater;

  private BoltChecker(byte[] file) {
    this.file = file;
  }

  public static List<String> check(Path path) throws IOException {
    return check(Files.readAllBytes(path));
  }

  public static List<String> check(byte[] file) {
    return new BoltChecker(file).run();
  }

  private List<String> run() {
    BoltReader.Meta a = BoltReader.Meta.at(file, 0);
    BoltReader.Meta b = BoltReader.Meta.at(file, 1);
    if (!a.valid()) {
      problems.add(a.problem());
    }
    if (!b.valid()) {
      problems.add(b.problem());
    }
    if (!a.valid() && !b.valid()) {
      return problems;
    }
    BoltReader.Meta m = !a.valid() ? b : !b.valid() ? a : b.txid() > a.txid() ? b : a;
    highWater = m.highWater();
    if ((long) PAGE_SIZE * highWater > file.length) {
      problems.add("high-water mark " + highWater + " is beyond the file's " + file.length / PAGE_SIZE + " pages");
    }
    for (BoltReader.Meta meta : List.of(a, b)) {
      if (meta.valid() && (meta.root() >= meta.highWater() || (meta.freelist() != Format.NO_FREELIST
          && meta.freelist() >= meta.highWater()))) {
        problems.add("meta " + meta.page() + ": root " + meta.root() + " or freelist " + meta.freelist()
            + " not below the high-water mark " + meta.highWater());
      }
    }
    reachable.put(0L, 0L);
    reachable.put(1L, 1L);
    Set<Long> free = new HashSet<>();
    if (m.freelist() != Format.NO_FREELIST) {
      if (mark(m.freelist(), -1)) {
        PageView f = view(m.freelist());
        if (f.flags() != Format.FREELIST) {
          problems.add("page " + m.freelist() + ": freelist page has flags " + f.flags());
        } else {
          long n = f.count();
          int start = Format.PAGE_HEADER;
          if (n == 0xFFFF) {
            n = f.b.getLong(f.base + Format.PAGE_HEADER);
            start += 8;
          }
          for (long i = 0; i < n; i++) {
            free.add(f.b.getLong(f.base + start + (int) (8 * i)));
          }
        }
      }
    }
    walkBucket(m.root(), -1, null, null, "root");
    // A file committed without a freelist (containerd >= 1.7 opens meta.db with NoFreelistSync)
    // has exactly the unreachable pages free: bbolt rebuilds the list by this same walk.
    boolean rebuilt = m.freelist() == Format.NO_FREELIST;
    for (long id = 0; id < highWater; id++) {
      boolean r = reachable.containsKey(id);
      boolean f = free.contains(id);
      if (!r && !f && !rebuilt) {
        problems.add("page " + id + ": unreachable unfreed");
      } else if (r && f) {
        problems.add("page " + id + ": reachable freed");
      }
    }
    for (long id : free) {
      if (id < 2 || id >= highWater) {
        problems.add("page " + id + ": freed but outside 2.." + (highWater - 1));
      }
    }
    return problems;
  }

  private PageView view(long id) {
    int base = (int) (id * PAGE_SIZE);
    PageView p = new PageView(file, base, file.length);
    return new PageView(file, base, (int) Math.min(file.length, base + (1 + p.overflow()) * (long) PAGE_SIZE));
  }

  /** Marks a page (and its overflow) as reached from {@code parent}; false when it cannot be read. */
  private boolean mark(long id, long parent) {
    if (id < 2 || id >= highWater || (id + 1) * PAGE_SIZE > file.length) {
      problems.add("page " + id + ": out of bounds (high-water mark " + highWater + ")");
      return false;
    }
    PageView p = new PageView(file, (int) (id * PAGE_SIZE), file.length);
    if (p.id() != id) {
      problems.add("page " + id + ": header says page " + p.id());
    }
    for (long i = id; i <= id + p.overflow(); i++) {
      if (reachable.putIfAbsent(i, parent) != null) {
        problems.add("page " + i + ": multiple references (already reached from page " + reachable.get(i) + ")");
        return false;
      }
      if (i >= highWater) {
        problems.add("page " + i + ": overflow of page " + id + " beyond the high-water mark");
      }
    }
    return true;
  }

  /** Walks a bucket's page tree; every key must lie in [lower, upper). */
  private void walkBucket(long id, long parent, byte[] lower, byte[] upper, String path) {
    if (!mark(id, parent)) {
      return;
    }
    PageView p = view(id);
    int flags = p.flags();
    if (flags == Format.BRANCH) {
      if (p.count() == 0) {
        problems.add("page " + id + " (" + path + "): branch page with no elements");
      }
      byte[] prev = null;
      for (int i = 0; i < p.count(); i++) {
        if (!p.inBounds(i, false)) {
          problems.add("page " + id + " (" + path + "): element " + i + " lies outside the page");
          return;
        }
        byte[] k = p.key(i, false);
        checkOrder(id, path, prev, k, lower, upper, i);
        prev = k;
      }
      for (int i = 0; i < p.count(); i++) {
        byte[] lo = p.key(i, false);
        byte[] hi = i + 1 < p.count() ? p.key(i + 1, false) : upper;
        walkBucket(p.childPage(i), id, lo, hi, path);
      }
    } else if (flags == Format.LEAF) {
      checkLeaf(p, id, lower, upper, path, false);
    } else {
      problems.add("page " + id + " (" + path + "): flags " + flags + " where a branch or leaf page was expected");
    }
  }

  private void checkLeaf(PageView p, long id, byte[] lower, byte[] upper, String path, boolean inline) {
    byte[] prev = null;
    for (int i = 0; i < p.count(); i++) {
      if (path.equals("root") && p.inBounds(i, true) && (p.leafFlags(i) & Format.BUCKET_LEAF_FLAG) == 0) {
        problems.add("page " + id + " (root): key \"" + Bucket.show(p.key(i, true))
            + "\" holds a value; bbolt's root holds only buckets");
      }
      if (!p.inBounds(i, true)) {
        problems.add("page " + id + " (" + path + "): element " + i + " lies outside the page");
        return;
      }
      byte[] k = p.key(i, true);
      if (k.length == 0) {
        problems.add("page " + id + " (" + path + "): element " + i + " has an empty key");
      }
      checkOrder(id, path, prev, k, lower, upper, i);
      prev = k;
      if ((p.leafFlags(i) & Format.BUCKET_LEAF_FLAG) != 0) {
        String sub = path + "/" + Bucket.show(k);
        if (inline) {
          problems.add("page " + id + " (" + path + "): inline bucket holds a sub-bucket " + sub);
          continue;
        }
        if (p.valueSize(i) < Format.BUCKET_HEADER) {
          problems.add("page " + id + " (" + sub + "): bucket value of " + p.valueSize(i) + " bytes");
          continue;
        }
        int v = p.valueStart(i);
        long root = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(v);
        if (root == 0) {
          PageView in = new PageView(file, v + Format.BUCKET_HEADER, v + p.valueSize(i));
          if (p.valueSize(i) < Format.BUCKET_HEADER + Format.PAGE_HEADER || in.flags() != Format.LEAF) {
            problems.add("page " + id + " (" + sub + "): inline bucket without a leaf page");
          } else {
            checkLeaf(in, id, null, null, sub, true);
          }
        } else {
          walkBucket(root, id, null, null, sub);
        }
      }
    }
  }

  private void checkOrder(long id, String path, byte[] prev, byte[] k, byte[] lower, byte[] upper, int i) {
    if (prev != null && Arrays.compareUnsigned(prev, k) >= 0) {
      problems.add("page " + id + " (" + path + "): key " + i + " \"" + Bucket.show(k) + "\" is not after \""
          + Bucket.show(prev) + "\"");
    }
    if (lower != null && Arrays.compareUnsigned(k, lower) < 0) {
      problems.add("page " + id + " (" + path + "): key \"" + Bucket.show(k) + "\" is below its branch key \""
          + Bucket.show(lower) + "\"");
    }
    if (upper != null && Arrays.compareUnsigned(k, upper) >= 0) {
      problems.add("page " + id + " (" + path + "): key \"" + Bucket.show(k) + "\" is not below the next branch key \""
          + Bucket.show(upper) + "\"");
    }
  }
}
