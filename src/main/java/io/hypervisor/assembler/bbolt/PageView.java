package io.hypervisor.assembler.bbolt;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A page (or an inline bucket's page inside a value) read in place: header fields, leaf and
 * branch elements. {@code limit} is where the page's bytes end (page size × (1 + overflow) for
 * a real page, the end of the value for an inline one), so element bounds can be checked.
 */
final class PageView {
  final ByteBuffer b;
  final int base;
  final int limit;

  PageView(byte[] file, int base, int limit) {
    this.b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
    this.base = base;
    this.limit = limit;
  }

  long id() {
    return b.getLong(base);
  }

  int flags() {
    return b.getShort(base + 8) & 0xffff;
  }

  int count() {
    return b.getShort(base + 10) & 0xffff;
  }

  long overflow() {
    return b.getInt(base + 12) & 0xffffffffL;
  }

  int element(int i) {
    return base + Format.PAGE_HEADER + Format.ELEMENT * i;
  }

  int leafFlags(int i) {
    return b.getInt(element(i));
  }

  /** Absolute start of element i's key (leaf or branch). */
  long keyStart(int i, boolean leaf) {
    int e = element(i);
    return e + (leaf ? (b.getInt(e + 4) & 0xffffffffL) : (b.getInt(e) & 0xffffffffL));
  }

  int keySize(int i, boolean leaf) {
    return b.getInt(element(i) + (leaf ? 8 : 4));
  }

  int valueSize(int i) {
    return b.getInt(element(i) + 12);
  }

  long childPage(int i) {
    return b.getLong(element(i) + 8);
  }

  /** Whether element i's key (and value, for leaves) lies inside the page. */
  boolean inBounds(int i, boolean leaf) {
    if (element(i) + Format.ELEMENT > limit) {
      return false;
    }
    long end = keyStart(i, leaf) + keySize(i, leaf) + (leaf ? valueSize(i) : 0);
    return keyStart(i, leaf) >= base && end <= limit && keySize(i, leaf) >= 0 && (!leaf || valueSize(i) >= 0);
  }

  byte[] key(int i, boolean leaf) {
    int s = (int) keyStart(i, leaf);
    return Arrays.copyOfRange(b.array(), s, s + keySize(i, leaf));
  }

  /** Absolute offset of a leaf element's value. */
  int valueStart(int i) {
    return (int) keyStart(i, true) + keySize(i, true);
  }

  byte[] value(int i) {
    int s = valueStart(i);
    return Arrays.copyOfRange(b.array(), s, s + valueSize(i));
  }
}
