package io.hypervisor.assembler.pkgrepo;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.tukaani.xz.XZInputStream;

/** Opens a repository index by its file name's compression suffix (.xz, .gz, .zst, .bz2, or none). */
public final class Compression {
  private Compression() {}

  public static InputStream open(InputStream in, String path) throws IOException {
    InputStream b = new BufferedInputStream(in, 1 << 16);
    if (path.endsWith(".xz")) {
      return new XZInputStream(b);
    }
    if (path.endsWith(".gz")) {
      return new GZIPInputStream(b, 1 << 16);
    }
    if (path.endsWith(".zst")) {
      return new ZstdCompressorInputStream(b);
    }
    if (path.endsWith(".bz2")) {
      return new BZip2CompressorInputStream(b);
    }
    return b;
  }
}
