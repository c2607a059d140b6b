package io.hypervisor.assembler.pkgrepo;

import io.hypervisor.assembler.content.ExpansionLimit;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * Opens a repository index by its file name's compression suffix (.xz, .gz, .zst, .bz2, or none),
 * bounded: an index may expand to at most {@link ExpansionLimit#RATIO} times its compressed size
 * (and never beyond 4 GiB; Debian's whole main is 50 MB), signed or not.
 */
public final class Compression {
  private Compression() {}

  static final long CAP = 4L << 30;

  /** {@code compressedSize}: the file's size, for the expansion bound. */
  public static InputStream open(InputStream in, String path, long compressedSize) throws IOException {
    InputStream b = new BufferedInputStream(in, 1 << 16);
    InputStream d;
    if (path.endsWith(".xz")) {
      d = new XZInputStream(b);
    } else if (path.endsWith(".gz")) {
      d = new GZIPInputStream(b, 1 << 16);
    } else if (path.endsWith(".zst")) {
      d = new ZstdCompressorInputStream(b);
    } else if (path.endsWith(".bz2")) {
      d = new BZip2CompressorInputStream(b);
    } else {
      return b;
    }
    return ExpansionLimit.of(d, compressedSize, CAP, path);
  }
}
