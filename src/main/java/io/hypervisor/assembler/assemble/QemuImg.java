package io.hypervisor.assembler.assemble;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * qemu-img as the build uses it: the work overlay on top of the base image, the compressed output
 * (in-order writes, so the same disk gives the same bytes), and the output's structural check.
 */
final class QemuImg {
  private static final ObjectMapper JSON = new ObjectMapper();

  private QemuImg() {}

  /** A qcow2 overlay backed by {@code base}, of at least {@code size} virtual bytes (the base's size if larger). */
  static void overlay(Path base, String baseFormat, Path overlay, long size) throws IOException {
    overlay(base, baseFormat, overlay, size, false);
  }

  /**
   * The same; {@code exact}: of {@code size} even where the backing file is larger (a step cache
   * layer another role made on a larger disk: past its root's end it holds at most a backup
   * partition table, which the grow writes again), else at least the backing file's size.
   */
  static void overlay(Path base, String baseFormat, Path overlay, long size, boolean exact) throws IOException {
    long bytes = exact ? size : Math.max(size, virtualSize(base));
    run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", baseFormat, "-b", base.toAbsolutePath().toString(),
        overlay.toString(), Long.toString(bytes)), 60);
  }

  static long virtualSize(Path image) throws IOException {
    String json = run(List.of("qemu-img", "info", "--output=json", "-U", image.toString()), 60);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"virtual-size\"\\s*:\\s*(\\d+)").matcher(json);
    if (!m.find()) {
      throw new IOException("qemu-img info " + image + " gave no virtual size");
    }
    return Long.parseLong(m.group(1));
  }

  /** A sparse raw copy of a disk (for a file system rebuilt in place of the root partition). */
  static void toRaw(Path from, Path to) throws IOException {
    run(List.of("qemu-img", "convert", "-O", "raw", from.toString(), to.toString()), 3600);
  }

  /**
   * The sha256 of bytes [offset, offset + size) of a disk image as a guest reads them, computed on
   * the host: qemu-img reads the range through the image's format (and its backing chain) into a
   * sparse scratch file. Seconds faster than hashing a partition inside a TCG appliance (~15 MB/s).
   * {@code -U}: the base may be open read-only by an appliance meanwhile; nothing writes it.
   */
  static String rangeSha256(Path image, String format, long offset, long size, Path scratch) throws IOException {
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("driver", "raw");
    spec.put("offset", offset);
    spec.put("size", size);
    spec.put("file", Map.of("driver", format, "file", Map.of("driver", "file", "filename",
        image.toAbsolutePath().toString())));
    Files.deleteIfExists(scratch);
    try {
      run(List.of("qemu-img", "convert", "-U", "-O", "raw", "json:" + JSON.writeValueAsString(spec),
          scratch.toString()), 3600);
      if (Files.size(scratch) != size) {
        throw new IOException("qemu-img gave " + Files.size(scratch) + " bytes of " + image.getFileName()
            + " at offset " + offset + " for a range of " + size);
      }
      try (InputStream in = Files.newInputStream(scratch)) {
        return Digest.of("sha256", in).encoded();
      }
    } finally {
      Files.deleteIfExists(scratch);
    }
  }

  /** Compressed qcow2: zstd (qemu ≥ 5.1 readers) or zlib; none writes it uncompressed. */
  static void convert(Path from, Path to, String compression) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("qemu-img", "convert", "-O", "qcow2"));
    if (from.getFileName().toString().endsWith(".raw")) {
      cmd.addAll(List.of("-f", "raw"));
    }
    if (!compression.equals("none")) {
      cmd.add("-c");
    }
    if (compression.equals("zstd")) {
      cmd.addAll(List.of("-o", "compression_type=zstd"));
    }
    cmd.addAll(List.of(from.toString(), to.toString()));
    run(cmd, 3600);
  }

  /** Points a qcow2 at another backing file without touching its data (the content is the same). */
  static void rebaseUnsafe(Path image, String backing, String backingFormat) throws IOException {
    run(List.of("qemu-img", "rebase", "-u", "-F", backingFormat, "-b", backing, image.toString()), 60);
  }

  /**
   * Fails unless both disks read the same, sector for sector, as a guest would see them (an
   * unallocated sector counts as zeros: sparseness is not content).
   */
  static void compare(Path source, Path written) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("qemu-img", "compare"));
    if (source.getFileName().toString().endsWith(".raw")) {
      cmd.addAll(List.of("-f", "raw"));
    }
    cmd.addAll(List.of("-F", "qcow2", source.toString(), written.toString()));
    try {
      run(cmd, 3600);
    } catch (IOException e) {
      throw new IOException("the written image " + written.getFileName() + " does not read as the disk it was "
          + "converted from (" + source.getFileName() + "): " + e.getMessage(), e);
    }
  }

  static void check(Path image) throws IOException {
    run(List.of("qemu-img", "check", "-q", image.toString()), 600);
  }

  static String run(List<String> cmd, int seconds) throws IOException {
    return io.hypervisor.assembler.sys.Processes.run(cmd, java.util.Map.of(), seconds);
  }

}
