package io.hypervisor.assembler.tree;

import io.hypervisor.assembler.sys.Processes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces the root partition of a raw disk with an ext4 file system made in one pass from a
 * canonical tar ({@code mke2fs -d}, e2fsprogs ≥ 1.47.1): the base's UUID, label, directory hash
 * seed and algorithm, features, block and inode sizes, inode count, group layout and journal
 * size, times from {@code SOURCE_DATE_EPOCH}, no host profile. An ext4 edited in place by a
 * kernel is never the same twice (allocation, random inode generations, journal); one made this
 * way is. Nothing outside the partition changes (checked), and e2fsck finds the result clean.
 */
public final class Ext4Rebuild {
  /** The oldest e2fsprogs that clamps copied-in times to SOURCE_DATE_EPOCH and reads tar input with xattrs. */
  public static final String MIN_E2FSPROGS = "1.47.1";

  /** The root file system's parameters, from the base as grown ({@code tune2fs -l}). */
  public record Params(String uuid, String label, String hashSeed, String hashAlg, List<String> features,
      int blockSize, int inodeSize, long inodeCount, long blockCount, long reservedBlocks, long blocksPerGroup,
      int flexBgSize, long journalMiB, String errors, String mountOptions) {

    /** From {@code tune2fs -l}'s fields (libguestfs tune2fs_l gives them as a map). */
    public static Params of(Map<String, String> sb) throws IOException {
      List<String> features = new ArrayList<>();
      for (String f : field(sb, "Filesystem features").trim().split("\\s+")) {
        if (!f.isEmpty() && !f.equals("needs_recovery")) { // a state of the mounted original, not a feature
          features.add(f);
        }
      }
      String label = sb.getOrDefault("Filesystem volume name", "<none>").trim();
      String journal = sb.getOrDefault("Journal size", "").trim();
      long journalMiB = 0;
      Matcher m = Pattern.compile("(\\d+)([kMG])").matcher(journal);
      if (m.matches()) {
        long n = Long.parseLong(m.group(1));
        journalMiB = switch (m.group(2)) {
          case "k" -> n / 1024;
          case "G" -> n * 1024;
          default -> n;
        };
      }
      String mountOpts = sb.getOrDefault("Default mount options", "(none)").trim();
      return new Params(field(sb, "Filesystem UUID").trim(), label.equals("<none>") ? "" : label,
          field(sb, "Directory Hash Seed").trim(), sb.getOrDefault("Default directory hash", "half_md4").trim(),
          features, (int) number(sb, "Block size"), (int) number(sb, "Inode size"), number(sb, "Inode count"),
          number(sb, "Block count"), number(sb, "Reserved block count"), number(sb, "Blocks per group"),
          sb.containsKey("Flex block group size") ? (int) number(sb, "Flex block group size") : 0, journalMiB,
          sb.getOrDefault("Errors behavior", "Continue").trim().toLowerCase(Locale.ROOT),
          mountOpts.equals("(none)") ? "" : mountOpts.replace(' ', ','));
    }

    private static String field(Map<String, String> sb, String key) throws IOException {
      String v = sb.get(key);
      if (v == null) {
        throw new IOException("tune2fs -l of the root file system has no \"" + key + "\"");
      }
      return v;
    }

    private static long number(Map<String, String> sb, String key) throws IOException {
      try {
        return Long.parseLong(field(sb, key).trim());
      } catch (NumberFormatException e) {
        throw new IOException("tune2fs -l's \"" + key + "\" is not a number: " + sb.get(key));
      }
    }
  }

  private Ext4Rebuild() {}

  /** The host's mke2fs version, or an IOException saying why byte-identical output is not possible here. */
  public static String mke2fsVersion() throws IOException {
    String out;
    try {
      out = Processes.run(List.of("mke2fs", "-V"), Map.of(), 30);
    } catch (IOException e) {
      throw new IOException("mke2fs is not usable on this host: " + e.getMessage());
    }
    Matcher m = Pattern.compile("mke2fs (\\d+\\.\\d+(?:\\.\\d+)?)").matcher(out);
    if (!m.find()) {
      throw new IOException("mke2fs -V says no version: " + out.trim());
    }
    String v = m.group(1);
    if (compareVersions(v, MIN_E2FSPROGS) < 0) {
      throw new IOException("mke2fs " + v + " is older than " + MIN_E2FSPROGS
          + " (which clamps times to SOURCE_DATE_EPOCH and reads tar input)");
    }
    return v;
  }

  /**
   * The superblock of the ext4 at {@code start} of a raw disk, as {@code tune2fs -l} lists it:
   * the same fields as libguestfs's tune2fs_l gives from the appliance (the same e2fsprogs),
   * for {@link Params#of}.
   */
  public static Map<String, String> superblock(Path raw, long start) throws IOException {
    String out = Processes.run(List.of("tune2fs", "-l", raw + "?offset=" + start), Map.of("LC_ALL", "C"), 60);
    Map<String, String> fields = new java.util.LinkedHashMap<>();
    for (String line : out.split("\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("tune2fs ")) {
        fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
      }
    }
    if (!fields.containsKey("Filesystem UUID")) {
      throw new IOException("tune2fs -l found no ext4 superblock at offset " + start + " of " + raw);
    }
    return fields;
  }

  /**
   * Rebuilds the file system at {@code [start, start + size)} of {@code raw} from {@code tar}:
   * that range emptied (a hole), mke2fs into it, e2fsck -fn on the result, and the bytes outside
   * the range checked unchanged. {@code work} holds the mke2fs profile.
   */
  public static void rebuild(Path raw, long start, long size, Params p, Path tar, long epoch, Path work)
      throws IOException {
    String outside = outside(raw, start, size);
    make(raw, start, size, p, tar, epoch, work);
    check(raw, start, size, outside);
  }

  /**
   * The making alone: that range emptied (a hole) and mke2fs into it. {@link #check} then proves
   * it, with {@link #outside} taken before (a caller may run those beside other work).
   */
  public static void make(Path raw, long start, long size, Params p, Path tar, long epoch, Path work)
      throws IOException {
    if (start % 4096 != 0 || size % p.blockSize() != 0) {
      throw new IOException("the root partition (" + start + "+" + size + ") is not aligned to its block size");
    }
    Processes.run(List.of("fallocate", "--punch-hole", "--keep-size", "--offset", Long.toString(start), "--length",
        Long.toString(size), raw.toString()), Map.of(), 600);
    Path profile = work.resolve("mke2fs.conf");
    // Only what the command line does not say: no host profile changes the result.
    Files.writeString(profile, "[defaults]\n\thash_alg = " + p.hashAlg() + "\n"
        + (p.mountOptions().isEmpty() ? "" : "\tdefault_mntopts = " + p.mountOptions() + "\n")
        + "\tenable_periodic_fsck = 0\n");
    List<String> cmd = new ArrayList<>(List.of("mke2fs", "-q", "-F", "-O", "none," + String.join(",", p.features()),
        "-b", Integer.toString(p.blockSize()), "-I", Integer.toString(p.inodeSize()), "-N",
        Long.toString(p.inodeCount()), "-g", Long.toString(p.blocksPerGroup()), "-m",
        String.format(Locale.ROOT, "%.6f", 100.0 * p.reservedBlocks() / p.blockCount()), "-U", p.uuid(),
        "-e", p.errors().startsWith("remount") ? "remount-ro" : p.errors().startsWith("panic") ? "panic" : "continue"));
    if (p.flexBgSize() > 0) {
      cmd.addAll(List.of("-G", Integer.toString(p.flexBgSize())));
    }
    if (!p.label().isEmpty()) {
      cmd.addAll(List.of("-L", p.label()));
    }
    if (p.features().contains("has_journal") && p.journalMiB() > 0) {
      cmd.addAll(List.of("-J", "size=" + p.journalMiB()));
    }
    cmd.addAll(List.of("-E", "offset=" + start + ",hash_seed=" + p.hashSeed()
        + ",root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0,nodiscard", "-d", tar.toString(), raw.toString(),
        Long.toString(size / p.blockSize())));
    Map<String, String> env = Map.of("SOURCE_DATE_EPOCH", Long.toString(epoch), "E2FSPROGS_FAKE_TIME",
        Long.toString(epoch), "MKE2FS_CONFIG", profile.toString(), "TZ", "UTC", "LC_ALL", "C");
    Processes.run(cmd, env, 1800);
  }

  /** e2fsck -fn on the made file system, and every byte outside it as {@code outside} (taken before) says. */
  public static void check(Path raw, long start, long size, String outside) throws IOException {
    Processes.run(List.of("e2fsck", "-f", "-n", raw + "?offset=" + start), Map.of("LC_ALL", "C"), 1800);
    if (!outside.equals(outside(raw, start, size))) {
      throw new IOException("mke2fs changed bytes outside the root partition of " + raw);
    }
  }

  /** sha256 of every byte of the disk outside {@code [start, start + size)}. */
  public static String outside(Path raw, long start, long size) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.READ)) {
      hash(ch, 0, start, md);
      hash(ch, start + size, ch.size() - start - size, md);
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }

  private static void hash(FileChannel ch, long from, long n, MessageDigest md) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(1 << 20);
    long pos = from;
    long end = from + Math.max(0, n);
    while (pos < end) {
      b.clear().limit((int) Math.min(b.capacity(), end - pos));
      int r = ch.read(b, pos);
      if (r < 0) {
        break;
      }
      b.flip();
      md.update(b);
      pos += r;
    }
  }

  static int compareVersions(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    for (int i = 0; i < Math.max(x.length, y.length); i++) {
      int u = i < x.length ? Integer.parseInt(x[i]) : 0;
      int v = i < y.length ? Integer.parseInt(y[i]) : 0;
      if (u != v) {
        return Integer.compare(u, v);
      }
    }
    return 0;
  }

}
