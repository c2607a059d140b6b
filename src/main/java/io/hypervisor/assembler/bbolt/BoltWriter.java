package io.hypervisor.assembler.bbolt;

import static io.hypervisor.assembler.bbolt.Format.BRANCH;
import static io.hypervisor.assembler.bbolt.Format.BUCKET_HEADER;
import static io.hypervisor.assembler.bbolt.Format.BUCKET_LEAF_FLAG;
import static io.hypervisor.assembler.bbolt.Format.ELEMENT;
import static io.hypervisor.assembler.bbolt.Format.FREELIST;
import static io.hypervisor.assembler.bbolt.Format.LEAF;
import static io.hypervisor.assembler.bbolt.Format.MAX_ELEMENTS;
import static io.hypervisor.assembler.bbolt.Format.META;
import static io.hypervisor.assembler.bbolt.Format.PAGE_HEADER;
import static io.hypervisor.assembler.bbolt.Format.PAGE_SIZE;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Lays a bucket tree out as a bbolt file, as bbolt's own {@code init()} plus one commit would:
 * meta pages 0 and 1 (txid 0 and 1, FNV-1a checksums), an empty freelist at page 2, then every
 * bucket's pages, children before parents, allocated sequentially with no gaps (so no page is
 * free or unreachable). Leaves and branches are filled up to a page; a single element bigger than
 * a page gets overflow pages; buckets without sub-buckets that fit in a quarter page are inlined
 * (bbolt's own rule). Keys are in unsigned byte order. The same tree always gives the same bytes.
 */
public final class BoltWriter {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private long next;

  private BoltWriter() {}

  /** The file's bytes. The root may hold only buckets (bbolt's API cannot put values there). */
  public static byte[] write(Bucket root) {
    for (Object v : root.entries().values()) {
      if (!(v instanceof Bucket)) {
        throw new IllegalArgumentException("a bbolt root bucket holds only buckets, not values");
      }
    }
    BoltWriter w = new BoltWriter();
    return w.layout(root);
  }

  /** Writes the file atomically (temp file beside it, then rename), mode as given by umask. */
  public static void write(Bucket root, Path file) throws IOException {
    byte[] b = write(root);
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.write(tmp, b);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private byte[] layout(Bucket root) {
    out.write(new byte[3 * PAGE_SIZE], 0, 3 * PAGE_SIZE);
    next = 3;
    long rootPage = writeBucket(root);
    byte[] file = out.toByteArray();
    ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 2; i++) {
      int p = i * PAGE_SIZE;
      b.putLong(p, i).putShort(p + 8, META).putShort(p + 10, (short) 0).putInt(p + 12, 0);
      int m = p + PAGE_HEADER;
      b.putInt(m, Format.MAGIC).putInt(m + 4, Format.VERSION).putInt(m + 8, PAGE_SIZE).putInt(m + 12, 0);
      b.putLong(m + 16, rootPage).putLong(m + 24, root.sequence());
      b.putLong(m + 32, 2).putLong(m + 40, next).putLong(m + 48, i);
      b.putLong(m + 56, Format.fnv1a64(file, m, 56));
    }
    int f = 2 * PAGE_SIZE;
    b.putLong(f, 2).putShort(f + 8, FREELIST).putShort(f + 10, (short) 0).putInt(f + 12, 0);
    return file;
  }

  /** A leaf element before layout. */
  private record Elem(int flags, byte[] key, byte[] value) {
    int size() {
      return ELEMENT + key.length + value.length;
    }
  }

  /** A branch element before layout: a child page and its first key. */
  private record Ref(byte[] key, long page) {
    int size() {
      return ELEMENT + key.length;
    }
  }

  private long writeBucket(Bucket b) {
    List<Elem> elems = new ArrayList<>();
    for (Map.Entry<byte[], Object> e : b.entries().entrySet()) {
      if (e.getValue() instanceof Bucket sub) {
        elems.add(new Elem(BUCKET_LEAF_FLAG, e.getKey(), bucketValue(sub)));
      } else {
        elems.add(new Elem(0, e.getKey(), (byte[]) e.getValue()));
      }
    }
    List<Ref> level = new ArrayList<>();
    for (List<Elem> node : chunk(elems, Elem::size)) {
      level.add(new Ref(node.isEmpty() ? new byte[0] : node.get(0).key(), alloc(leaf(node))));
    }
    while (level.size() > 1) {
      List<Ref> up = new ArrayList<>();
      for (List<Ref> node : chunk(level, Ref::size)) {
        up.add(new Ref(node.get(0).key(), alloc(branch(node))));
      }
      level = up;
    }
    return level.get(0).page();
  }

  /** A sub-bucket's value: header (+ inline page when bbolt would inline it). */
  private byte[] bucketValue(Bucket sub) {
    int inline = PAGE_HEADER;
    boolean canInline = !sub.hasSubBuckets();
    if (canInline) {
      for (Map.Entry<byte[], Object> e : sub.entries().entrySet()) {
        inline += ELEMENT + e.getKey().length + ((byte[]) e.getValue()).length;
      }
      canInline = inline <= PAGE_SIZE / 4;
    }
    if (canInline) {
      List<Elem> elems = new ArrayList<>();
      sub.entries().forEach((k, v) -> elems.add(new Elem(0, k, (byte[]) v)));
      byte[] page = leaf(elems);
      ByteBuffer v = ByteBuffer.allocate(BUCKET_HEADER + page.length).order(ByteOrder.LITTLE_ENDIAN);
      v.putLong(0).putLong(sub.sequence()).put(page);
      return v.array();
    }
    long root = writeBucket(sub);
    return ByteBuffer.allocate(BUCKET_HEADER).order(ByteOrder.LITTLE_ENDIAN).putLong(root).putLong(sub.sequence()).array();
  }

  /** Items into nodes of at most a page (a lone oversized item gets its own node). */
  private static <T> List<List<T>> chunk(List<T> items, java.util.function.ToIntFunction<T> size) {
    List<List<T>> nodes = new ArrayList<>();
    List<T> cur = new ArrayList<>();
    int bytes = PAGE_HEADER;
    for (T item : items) {
      int n = size.applyAsInt(item);
      if (!cur.isEmpty() && (bytes + n > PAGE_SIZE || cur.size() >= MAX_ELEMENTS)) {
        nodes.add(cur);
        cur = new ArrayList<>();
        bytes = PAGE_HEADER;
      }
      cur.add(item);
      bytes += n;
    }
    nodes.add(cur);
    return nodes;
  }

  /** A leaf page image (id and overflow filled in by alloc; 0 for inline pages). */
  private static byte[] leaf(List<Elem> elems) {
    int size = PAGE_HEADER;
    for (Elem e : elems) {
      size += e.size();
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, 0).putShort(8, LEAF).putShort(10, (short) elems.size()).putInt(12, 0);
    int data = PAGE_HEADER + ELEMENT * elems.size();
    for (int i = 0; i < elems.size(); i++) {
      Elem e = elems.get(i);
      int at = PAGE_HEADER + ELEMENT * i;
      b.putInt(at, e.flags()).putInt(at + 4, data - at).putInt(at + 8, e.key().length).putInt(at + 12, e.value().length);
      b.put(data, e.key());
      b.put(data + e.key().length, e.value());
      data += e.key().length + e.value().length;
    }
    return b.array();
  }

  private static byte[] branch(List<Ref> refs) {
    int size = PAGE_HEADER;
    for (Ref r : refs) {
      size += r.size();
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, 0).putShort(8, BRANCH).putShort(10, (short) refs.size()).putInt(12, 0);
    int data = PAGE_HEADER + ELEMENT * refs.size();
    for (int i = 0; i < refs.size(); i++) {
      Ref r = refs.get(i);
      int at = PAGE_HEADER + ELEMENT * i;
      b.putInt(at, data - at).putInt(at + 4, r.key().length).putLong(at + 8, r.page());
      b.put(data, r.key());
      data += r.key().length;
    }
    return b.array();
  }

  /** Places a node image at the next free page(s): its id and overflow count set, padded. */
  private long alloc(byte[] image) {
    int pages = Math.max(1, (image.length + PAGE_SIZE - 1) / PAGE_SIZE);
    long id = next;
    ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putLong(0, id).putInt(12, pages - 1);
    out.write(image, 0, image.length);
    int pad = pages * PAGE_SIZE - image.length;
    out.write(new byte[pad], 0, pad);
    next += pages;
    return id;
  }
}
