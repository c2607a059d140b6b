package io.hypervisor.assembler.content;

import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.security.MessageDigest;

/** A channel that hashes (sha256) what it writes to another, so a written file need not be read again for its digest. */
public final class HashingChannel implements WritableByteChannel {
  private final WritableByteChannel out;
  private final MessageDigest md = Digest.messageDigest("sha256");
  private long written;

  public HashingChannel(WritableByteChannel out) {
    this.out = out;
  }

  @Override
  public int write(ByteBuffer src) throws IOException {
    ByteBuffer view = src.duplicate();
    int n = out.write(src);
    view.limit(view.position() + n);
    md.update(view);
    written += n;
    return n;
  }

  /** The digest of everything written so far (call once, at the end). */
  public Digest digest() {
    return Digest.parse("sha256:" + java.util.HexFormat.of().formatHex(md.digest()));
  }

  public long written() {
    return written;
  }

  @Override
  public boolean isOpen() {
    return out.isOpen();
  }

  /** Leaves the underlying channel open: its owner closes it. */
  @Override
  public void close() {
    // nothing of its own to close
  }
}
