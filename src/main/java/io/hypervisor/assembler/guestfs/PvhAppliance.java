package io.hypervisor.assembler.guestfs;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.LibGuestFSException;
import io.hypervisor.assembler.model.Digest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * libguestfs's own appliance booted from its kernel's uncompressed ELF image instead of the
 * compressed bzImage. An emulated (TCG) guest spends ~3-4 s unpacking Debian's xz-compressed kernel
 * at every launch, before it prints a line; qemu loads an ELF kernel that carries the PVH entry
 * note straight into memory (guestfish on this machine kind: first console line 0.6 s after qemu
 * starts instead of 4.3 s). The initrd and root stay supermin's, built or found up to date by the
 * same supermin call libguestfs makes at every launch, so a host update reaches them as before; the
 * kernel is unpacked once per supermin kernel (keyed by its sha256) into a fixed-appliance
 * directory beside supermin's. Anything unexpected (not x86-64, a fixed appliance already, supermin
 * failing, a compression or kernel without the PVH note) leaves the handle on the usual appliance.
 */
public final class PvhAppliance {
  /** The fixed-appliance directory to use, or none, and why, for the launch's debug line. */
  public record Choice(Optional<Path> dir, String reason) {}

  static final String PREFIX = "assemble-pvh-";
  /** Older unpacked kernels are removed once no launch can still be about to read them. */
  private static final Duration STALE = Duration.ofDays(1);

  private PvhAppliance() {}

  /** Points the handle at the uncompressed-kernel appliance where it can; says what it did. */
  public static String apply(GuestFS g) {
    Choice c = choose(g);
    if (c.dir().isPresent()) {
      try {
        g.set_path(c.dir().get().toString());
      } catch (LibGuestFSException e) {
        return "the usual appliance (set_path: " + e.getMessage() + ")";
      }
    }
    return c.reason();
  }

  /** Finds or makes the directory for this handle's appliance. */
  static Choice choose(GuestFS g) {
    String arch = System.getProperty("os.arch");
    if (!arch.equals("amd64") && !arch.equals("x86_64")) {
      return none("PVH boot is x86-64 only, host is " + arch);
    }
    try {
      Path supermin = null;
      for (String dir : g.get_path().split(":")) {
        if (Files.exists(Path.of(dir, "README.fixed"))) {
          return none("a fixed appliance is configured (" + dir + ")");
        }
        if (supermin == null && Files.isDirectory(Path.of(dir, "supermin.d"))) {
          supermin = Path.of(dir, "supermin.d");
        }
      }
      if (supermin == null) {
        return none("no supermin.d on the libguestfs path " + g.get_path());
      }
      int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
      Path cache = Path.of(g.get_cachedir(), ".guestfs-" + uid);
      Files.createDirectories(cache);
      Path built = cache.resolve("appliance.d");
      // The call libguestfs 1.48 makes before each launch (its debug output): a no-op in ~15 ms
      // when the appliance is up to date, a rebuild when the host's packages changed.
      HostProbe.run(List.of("supermin", "--build", "--if-newer", "--lock", cache.resolve("lock").toString(),
          "--copy-kernel", "-f", "ext2", "--host-cpu", "x86_64", supermin.toString(), "-o", built.toString()),
          Duration.ofMinutes(10));
      byte[] bz = Files.readAllBytes(built.resolve("kernel"));
      String key = Digest.sha256(bz).encoded().substring(0, 16);
      Path dir = cache.resolve(PREFIX + key);
      if (!Files.exists(dir.resolve("README.fixed"))) {
        make(dir, bz);
        prune(cache, dir);
      }
      return new Choice(Optional.of(dir), "the appliance's kernel unpacked (" + dir + ")");
    } catch (IOException | LibGuestFSException | RuntimeException e) {
      return none(e.getMessage());
    }
  }

  private static Choice none(String why) {
    return new Choice(Optional.empty(), "the usual appliance: " + why);
  }

  /** The directory libguestfs takes as a fixed appliance, made whole under a temporary name. */
  private static void make(Path dir, byte[] bz) throws IOException {
    Path tmp = Files.createTempDirectory(dir.getParent(), "." + dir.getFileName() + ".");
    try {
      unpack(bz, tmp.resolve("kernel"));
      Files.createSymbolicLink(tmp.resolve("initrd"), Path.of("..", "appliance.d", "initrd"));
      Files.createSymbolicLink(tmp.resolve("root"), Path.of("..", "appliance.d", "root"));
      Files.writeString(tmp.resolve("README.fixed"), "Made by assemble: supermin's appliance with its kernel "
          + "unpacked for a PVH boot (no in-guest decompression under TCG).\n");
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
      // another build made it at the same moment: the same bytes from the same kernel
    } finally {
      io.hypervisor.assembler.model.FileTrees.deleteQuietly(tmp);
    }
  }

  /** Removes directories unpacked from earlier kernels, once they are old enough not to be in use. */
  private static void prune(Path cache, Path keep) {
    try (var s = Files.list(cache)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String n = p.getFileName().toString();
        if (n.startsWith(PREFIX) && !p.equals(keep)
            && Files.getLastModifiedTime(p).toInstant().isBefore(Instant.now().minus(STALE))) {
          io.hypervisor.assembler.model.FileTrees.deleteQuietly(p);
        }
      }
    } catch (IOException ignored) {
      // best effort: a leftover directory costs disk space only
    }
  }

  /**
   * The ELF image inside a bzImage (boot protocol 2.08+: the payload's offset and length in the
   * setup header; the build appends the uncompressed size as 4 little-endian bytes), streamed into
   * {@code out} (~66 MB for Debian's kernel) and checked there to be an x86-64 ELF with the PVH
   * entry note qemu looks for.
   */
  static void unpack(byte[] bz, Path out) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(bz).order(ByteOrder.LITTLE_ENDIAN);
    if (bz.length < 0x250 || b.getInt(0x202) != 0x53726448) {
      throw new IOException("the appliance's kernel is not a bzImage");
    }
    if ((b.getShort(0x206) & 0xffff) < 0x208) {
      throw new IOException("the appliance's kernel is older than boot protocol 2.08");
    }
    int setup = bz[0x1f1] == 0 ? 4 : bz[0x1f1] & 0xff;
    long start = (setup + 1) * 512L + (b.getInt(0x248) & 0xffffffffL);
    long length = b.getInt(0x24c) & 0xffffffffL;
    if (length < 8 || start + length > bz.length) {
      throw new IOException("the appliance's kernel has its payload outside the file");
    }
    int from = (int) start;
    int to = (int) (start + length);
    long size = b.getInt(to - 4) & 0xffffffffL;
    long written = unpacked(bz, from, to, size, out);
    if (written != size) {
      throw new IOException("the appliance's kernel unpacked to " + written + " bytes, its header says " + size);
    }
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(out)) {
      if (!pvh(ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, size))) {
        throw new IOException("the appliance's kernel has no PVH entry note (CONFIG_PVH)");
      }
    }
  }

  /** Decompresses the payload into {@code out}, stopping past {@code size}; the bytes written. */
  private static long unpacked(byte[] bz, int from, int to, long size, Path out) throws IOException {
    if (size > (1L << 30)) {
      throw new IOException("the appliance's kernel claims " + size + " bytes unpacked");
    }
    InputStream in;
    if (startsWith(bz, from, 0xfd, '7', 'z', 'X', 'Z', 0)) {
      in = new org.tukaani.xz.SingleXZInputStream(new ByteArrayInputStream(bz, from, to - 4 - from));
    } else if (startsWith(bz, from, 0x1f, 0x8b)) {
      in = new java.util.zip.GZIPInputStream(new ByteArrayInputStream(bz, from, to - from));
    } else if (startsWith(bz, from, 0x28, 0xb5, 0x2f, 0xfd)) {
      in = new com.github.luben.zstd.ZstdInputStream(new ByteArrayInputStream(bz, from, to - 4 - from));
    } else {
      throw new IOException(String.format("the appliance's kernel is compressed with something other than xz, "
          + "gzip or zstd (magic %02x %02x)", bz[from], bz[from + 1]));
    }
    try (in; OutputStream o = Files.newOutputStream(out)) {
      long written = 0;
      byte[] buf = new byte[1 << 16];
      for (int n; written <= size && (n = in.read(buf)) > 0; written += n) {
        o.write(buf, 0, n);
      }
      return written;
    }
  }

  private static boolean startsWith(byte[] a, int at, int... magic) {
    for (int i = 0; i < magic.length; i++) {
      if (at + i >= a.length || (a[at + i] & 0xff) != magic[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether an ELF is a 64-bit little-endian x86-64 image with a Xen {@code PHYS32_ENTRY} note
   * (type 18), the entry qemu's {@code -kernel} uses for an uncompressed kernel.
   */
  static boolean pvh(byte[] elf) {
    return pvh(ByteBuffer.wrap(elf));
  }

  /** The same over a buffer (the unpacked kernel's file, mapped). */
  static boolean pvh(ByteBuffer elf) {
    ByteBuffer b = elf.order(ByteOrder.LITTLE_ENDIAN);
    int length = b.limit();
    if (length < 64 || b.getInt(0) != 0x464c457f || b.get(4) != 2 || b.get(5) != 1 || b.getShort(0x12) != 0x3e) {
      return false;
    }
    long phoff = b.getLong(0x20);
    int phentsize = b.getShort(0x36) & 0xffff;
    int phnum = b.getShort(0x38) & 0xffff;
    for (int i = 0; i < phnum; i++) {
      long ph = phoff + (long) i * phentsize;
      if (ph < 0 || ph + 56 > length) {
        return false;
      }
      if (b.getInt((int) ph) != 4) { // PT_NOTE
        continue;
      }
      long off = b.getLong((int) ph + 8);
      long end = off + b.getLong((int) ph + 32);
      if (off < 0 || end > length || end < off) {
        return false;
      }
      while (off + 12 <= end) {
        int namesz = b.getInt((int) off);
        int descsz = b.getInt((int) off + 4);
        int type = b.getInt((int) off + 8);
        if (namesz < 0 || descsz < 0) {
          return false;
        }
        long name = off + 12;
        if (type == 18 && namesz == 4 && name + 4 <= end && b.get((int) name) == 'X' && b.get((int) name + 1) == 'e'
            && b.get((int) name + 2) == 'n' && b.get((int) name + 3) == 0) {
          return true;
        }
        off = name + ((namesz + 3L) & ~3L) + ((descsz + 3L) & ~3L);
      }
    }
    return false;
  }
}
