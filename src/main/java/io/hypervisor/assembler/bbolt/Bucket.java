package io.hypervisor.assembler.bbolt;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * A bbolt bucket in memory: keys in bbolt's order (bytewise unsigned), each holding a value or a
 * sub-bucket, plus the bucket's sequence counter ({@code NextSequence}).
 */
public final class Bucket {
  /** bbolt's key order: unsigned bytewise comparison (never String order). */
  public static final java.util.Comparator<byte[]> ORDER = Arrays::compareUnsigned;
  public static final int MAX_KEY = 32768;
  private final TreeMap<byte[], Object> entries = new TreeMap<>(ORDER);
  private long sequence;

  public long sequence() {
    return sequence;
  }

  public Bucket sequence(long s) {
    sequence = s;
    return this;
  }

  /** The sub-bucket under {@code name}, created when missing. */
  public Bucket bucket(String name) {
    return bucket(bytes(name));
  }

  public Bucket bucket(byte[] name) {
    check(name);
    Object o = entries.get(name);
    if (o instanceof Bucket b) {
      return b;
    }
    if (o != null) {
      throw new IllegalArgumentException("key " + show(name) + " holds a value, not a bucket");
    }
    Bucket b = new Bucket();
    entries.put(name.clone(), b);
    return b;
  }

  public Bucket put(String key, byte[] value) {
    return put(bytes(key), value);
  }

  public Bucket put(String key, String value) {
    return put(bytes(key), bytes(value));
  }

  public Bucket put(byte[] key, byte[] value) {
    check(key);
    if (entries.get(key) instanceof Bucket) {
      throw new IllegalArgumentException("key " + show(key) + " holds a bucket, not a value");
    }
    entries.put(key.clone(), value.clone());
    return this;
  }

  /** A value, or null. */
  public byte[] get(String key) {
    Object o = entries.get(bytes(key));
    return o instanceof byte[] b ? b : null;
  }

  /** A sub-bucket, or null. */
  public Bucket child(String key) {
    Object o = entries.get(bytes(key));
    return o instanceof Bucket b ? b : null;
  }

  /** Keys to values (byte[]) or sub-buckets ({@link Bucket}), in bbolt order. */
  public NavigableMap<byte[], Object> entries() {
    return Collections.unmodifiableNavigableMap(entries);
  }

  public boolean hasSubBuckets() {
    return entries.values().stream().anyMatch(v -> v instanceof Bucket);
  }

  private static void check(byte[] key) {
    if (key.length == 0 || key.length > MAX_KEY) {
      throw new IllegalArgumentException("bbolt keys are 1 to " + MAX_KEY + " bytes, not " + key.length);
    }
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String show(byte[] k) {
    return new String(k, StandardCharsets.UTF_8);
  }

  /** Deep equality: same keys, same values, same sub-buckets and sequences. */
  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Bucket b) || sequence != b.sequence || entries.size() != b.entries.size()) {
      return false;
    }
    var i = entries.entrySet().iterator();
    var j = b.entries.entrySet().iterator();
    while (i.hasNext()) {
      Map.Entry<byte[], Object> x = i.next();
      Map.Entry<byte[], Object> y = j.next();
      if (!Arrays.equals(x.getKey(), y.getKey())) {
        return false;
      }
      Object xv = x.getValue();
      Object yv = y.getValue();
      if (xv instanceof byte[] xa ? !(yv instanceof byte[] ya && Arrays.equals(xa, ya)) : !xv.equals(yv)) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int hashCode() {
    return entries.size() * 31 + Long.hashCode(sequence);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("{");
    entries.forEach((k, v) -> b.append(show(k)).append('=').append(v instanceof Bucket ? v : v instanceof byte[] a
        ? a.length + "B" : v).append(", "));
    return b.append("seq=").append(sequence).append('}').toString();
  }
}
