package io.hypervisor.assembler.bbolt;

import static io.hypervisor.assembler.bbolt.Format.PAGE_SIZE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a bbolt file back into a bucket tree: the valid meta with the highest txid (as bbolt
 * does), then every bucket from its root page, inline buckets included. Fails on a malformed
 * file; {@link BoltChecker} says what exactly is wrong with it.
 */
public final class BoltReader {
  private final byte[] file;
  private final int pageSize;

  private BoltReader(byte[] file, int pageSize) {
    this.file = file;
    this.pageSize = pageSize;
  }

  public static Bucket read(Path path) throws IOException {
    return read(Files.readAllBytes(path));
  }

  public static Bucket read(byte[] file) throws IOException {
    Meta m = Meta.pick(file);
    BoltReader r = new BoltReader(file, m.pageSize());
    Bucket root = new Bucket().sequence(m.rootSequence());
    r.readNode(m.root(), root, 0);
    return root;
  }

  /** The meta page bbolt would use. */
  record Meta(int page, int pageSize, long root, long rootSequence, long freelist, long highWater, long txid,
      boolean valid, String problem) {
    static Meta at(byte[] file, int page) {
      if (file.length < 2L * PAGE_SIZE) {
        return new Meta(page, 0, 0, 0, 0, 0, 0, false, "file too small: " + file.length + " bytes");
      }
      ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
      // Meta 1 sits one page in; bbolt learns the page size from meta 0 (4096 is the only size
      // this writer uses).
      int off = page * PAGE_SIZE + Format.PAGE_HEADER;
      int magic = b.getInt(off);
      int version = b.getInt(off + 4);
      int ps = b.getInt(off + 8);
      long checksum = b.getLong(off + 56);
      String problem = null;
      if (magic != Format.MAGIC) {
        problem = "meta " + page + ": bad magic";
      } else if (version != Format.VERSION) {
        problem = "meta " + page + ": version " + version;
      } else if (checksum != Format.fnv1a64(file, off, 56)) {
        problem = "meta " + page + ": checksum mismatch";
      } else if (ps != PAGE_SIZE) {
        problem = "meta " + page + ": page size " + ps + " (only " + PAGE_SIZE + " is read here)";
      }
      return new Meta(page, ps, b.getLong(off + 16), b.getLong(off + 24), b.getLong(off + 32), b.getLong(off + 40),
          b.getLong(off + 48), problem == null, problem);
    }

    static Meta pick(byte[] file) throws IOException {
      Meta a = at(file, 0);
      Meta b = at(file, 1);
      if (!a.valid() && !b.valid()) {
        throw new IOException("not a valid bbolt file: " + a.problem() + "; " + b.problem());
      }
      if (!a.valid()) {
        return b;
      }
      if (!b.valid()) {
        return a;
      }
      return b.txid() > a.txid() ? b : a;
    }
  }

  PageView page(long id) throws IOException {
    if (id < 2 || (id + 1) * pageSize > file.length) {
      throw new IOException("page " + id + " is outside the file");
    }
    int base = (int) (id * pageSize);
    PageView p = new PageView(file, base, file.length);
    return new PageView(file, base, (int) Math.min(file.length, base + (1 + p.overflow()) * pageSize));
  }

  private void readNode(long id, Bucket into, int depth) throws IOException {
    if (depth > 64) {
      throw new IOException("page " + id + ": tree deeper than 64 levels (a cycle?)");
    }
    PageView p = page(id);
    if (p.flags() == Format.BRANCH) {
      for (int i = 0; i < p.count(); i++) {
        readNode(p.childPage(i), into, depth + 1);
      }
    } else if (p.flags() == Format.LEAF) {
      readLeaf(p, into, depth);
    } else {
      throw new IOException("page " + id + ": flags " + p.flags() + " where a branch or leaf page was expected");
    }
  }

  private void readLeaf(PageView p, Bucket into, int depth) throws IOException {
    for (int i = 0; i < p.count(); i++) {
      if (!p.inBounds(i, true)) {
        throw new IOException("page " + p.id() + ": element " + i + " lies outside the page");
      }
      byte[] key = p.key(i, true);
      if ((p.leafFlags(i) & Format.BUCKET_LEAF_FLAG) != 0) {
        int v = p.valueStart(i);
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        long root = b.getLong(v);
        Bucket sub = into.bucket(key).sequence(b.getLong(v + 8));
        if (root == 0) {
          readLeaf(new PageView(file, v + Format.BUCKET_HEADER, v + p.valueSize(i)), sub, depth + 1);
        } else {
          readNode(root, sub, depth + 1);
        }
      } else {
        into.put(key, p.value(i));
      }
    }
  }
}
