package io.hypervisor.assembler.bbolt;

/** bbolt's on-disk constants (page.go, db.go, bucket.go; containerd-store.md §1). */
final class Format {
  static final int PAGE_SIZE = 4096;
  static final int PAGE_HEADER = 16;
  static final int ELEMENT = 16;
  static final int BUCKET_HEADER = 16;
  static final int MAGIC = 0xED0CDAED;
  static final int VERSION = 2;
  static final short BRANCH = 0x01;
  static final short LEAF = 0x02;
  static final short META = 0x04;
  static final short FREELIST = 0x10;
  static final int BUCKET_LEAF_FLAG = 0x01;
  static final long NO_FREELIST = -1L;
  static final int MAX_ELEMENTS = 0xFFFF - 1;

  private Format() {}

  /** FNV-1a 64 (hash/fnv New64a) over {@code len} bytes from {@code off}. */
  static long fnv1a64(byte[] b, int off, int len) {
    long h = 0xcbf29ce484222325L;
    for (int i = off; i < off + len; i++) {
      h ^= b[i] & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }
}
