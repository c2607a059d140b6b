package io.hypervisor.assembler.guestfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bzImage unpacking and PVH-note check, against the host's own kernels and binutils/xz as oracles. */
class PvhApplianceTest {
  @TempDir
  Path tmp;

  /** What {@link PvhAppliance#unpack} writes into the file the appliance boots. */
  private byte[] vmlinux(byte[] bz) throws IOException {
    Path out = Files.createTempFile(tmp, "vmlinux", "");
    PvhAppliance.unpack(bz, out);
    return Files.readAllBytes(out);
  }

  /** The kernel supermin copies into the appliance (the newest in /boot), as libguestfs boots it. */
  private static Optional<Path> hostKernel() throws IOException {
    Path appliance = Path.of("/var/tmp/.guestfs-0/appliance.d/kernel");
    if (Files.isReadable(appliance)) {
      return Optional.of(appliance);
    }
    try (Stream<Path> s = Files.list(Path.of("/boot"))) {
      return s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).filter(Files::isReadable)
          .max(Path::compareTo);
    }
  }

  @Test
  void theHostKernelUnpacksAsTheKernelsOwnExtractScriptDoesAndCarriesThePvhNoteReadelfShows() throws Exception {
    Optional<Path> kernel = hostKernel();
    assumeTrue(kernel.isPresent(), "no readable host kernel");
    byte[] bz = Files.readAllBytes(kernel.get());
    byte[] elf = vmlinux(bz);
    // extract-vmlinux's way: the first xz magic in the file, everything after it through xz -dc
    int at = indexOf(bz, new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0});
    assumeTrue(at > 0, "the host kernel is not xz-compressed");
    Path payload = tmp.resolve("payload.xz");
    Files.write(payload, Arrays.copyOfRange(bz, at, bz.length));
    Process p = new ProcessBuilder("xz", "-dc", "--single-stream", payload.toString()).start();
    byte[] oracle = p.getInputStream().readAllBytes();
    p.waitFor();
    assertArrayEquals(oracle, elf, "the same bytes as xz -dc");
    Path out = tmp.resolve("vmlinux");
    Files.write(out, elf);
    Process r = new ProcessBuilder("readelf", "-n", out.toString()).redirectErrorStream(true).start();
    String notes = new String(r.getInputStream().readAllBytes());
    r.waitFor();
    assertTrue(notes.lines().anyMatch(l -> l.trim().startsWith("Xen") && l.contains("(0x00000012)")),
        "readelf lists the XEN_ELFNOTE_PHYS32_ENTRY note");
    assertTrue(PvhAppliance.pvh(elf));
  }

  @Test
  void gzipXzAndZstdPayloadsUnpackAndTheSizeTrailerIsChecked() throws Exception {
    byte[] elf = elf(true);
    for (String c : List.of("gzip", "xz", "zstd")) {
      assertArrayEquals(elf, vmlinux(bzImage(compress(c, elf), c.equals("gzip") ? null : elf.length)), c);
    }
    IOException wrong = assertThrows(IOException.class,
        () -> vmlinux(bzImage(compress("xz", elf), elf.length + 1)));
    assertTrue(wrong.getMessage().contains("header says"), wrong.getMessage());
  }

  @Test
  void aKernelWithoutThePvhNoteOrInAnotherCompressionOrShapeIsLeftAlone() throws Exception {
    IOException noNote = assertThrows(IOException.class,
        () -> vmlinux(bzImage(compress("gzip", elf(false)), null)));
    assertTrue(noNote.getMessage().contains("PVH"), noNote.getMessage());
    byte[] lz4 = new byte[64];
    lz4[0] = 0x02;
    lz4[1] = 0x21;
    IOException other = assertThrows(IOException.class, () -> vmlinux(bzImage(lz4, 64)));
    assertTrue(other.getMessage().contains("something other than"), other.getMessage());
    IOException notBz = assertThrows(IOException.class, () -> vmlinux(new byte[4096]));
    assertTrue(notBz.getMessage().contains("not a bzImage"), notBz.getMessage());
    byte[] elf = elf(true);
    assertFalse(PvhAppliance.pvh(Arrays.copyOf(elf, 100)), "truncated");
    byte[] arm = elf.clone();
    arm[0x12] = (byte) 0xb7;
    assertFalse(PvhAppliance.pvh(arm), "aarch64");
  }

  /** A minimal x86-64 ELF: header, one PT_NOTE program header, a GNU note and (optionally) Xen's type 18. */
  static byte[] elf(boolean pvh) {
    ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0, 0x464c457f).put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1);
    b.putShort(0x10, (short) 2).putShort(0x12, (short) 0x3e).putLong(0x20, 64);
    b.putShort(0x36, (short) 56).putShort(0x38, (short) 1);
    int notes = 256;
    int at = notes;
    at = note(b, at, "GNU", 3, new byte[20]);
    if (pvh) {
      at = note(b, at, "Xen", 18, new byte[] {0x50, 0x08, 0, 1, 0, 0, 0, 0});
    }
    b.putInt(64, 4).putLong(64 + 8, notes).putLong(64 + 32, at - notes);
    for (int i = at; i < 4096; i++) {
      b.put(i, (byte) (i * 31));
    }
    return b.array();
  }

  private static int note(ByteBuffer b, int at, String name, int type, byte[] desc) {
    byte[] n = (name + "\0").getBytes();
    b.putInt(at, n.length).putInt(at + 4, desc.length).putInt(at + 8, type);
    b.position(at + 12);
    b.put(n);
    int d = at + 12 + ((n.length + 3) & ~3);
    b.position(d);
    b.put(desc);
    return d + ((desc.length + 3) & ~3);
  }

  static byte[] compress(String tool, byte[] data) throws Exception {
    Process p = new ProcessBuilder(tool, "-c").start();
    try (OutputStream o = p.getOutputStream()) {
      o.write(data);
    }
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor() == 0, tool);
    return out;
  }

  /** A bzImage's setup header (protocol 2.15) around a payload, with the build's size trailer unless gzip's. */
  static byte[] bzImage(byte[] payload, Integer size) throws IOException {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.write(payload);
    if (size != null) {
      p.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(size).array());
    }
    byte[] pay = p.toByteArray();
    int setup = 3;
    int offset = 0x100;
    ByteBuffer b = ByteBuffer.allocate((setup + 1) * 512 + offset + pay.length + 32).order(ByteOrder.LITTLE_ENDIAN);
    b.put(0x1f1, (byte) setup).putInt(0x202, 0x53726448).putShort(0x206, (short) 0x20f);
    b.putInt(0x248, offset).putInt(0x24c, pay.length);
    b.position((setup + 1) * 512 + offset);
    b.put(pay);
    return b.array();
  }

  private static int indexOf(byte[] a, byte[] m) {
    outer:
    for (int i = 0; i + m.length <= a.length; i++) {
      for (int j = 0; j < m.length; j++) {
        if (a[i + j] != m[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
