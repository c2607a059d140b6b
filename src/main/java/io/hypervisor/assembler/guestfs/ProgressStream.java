package io.hypervisor.assembler.guestfs;

import io.hypervisor.assembler.events.EventSink;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/** Counts bytes on their way to the appliance and reports progress at most every 250 ms. */
public final class ProgressStream extends FilterOutputStream {
  private final String label;
  private final long total;
  private final EventSink events;
  private long done;
  private long last = System.nanoTime();

  public ProgressStream(OutputStream out, String label, long total, EventSink events) {
    super(out);
    this.label = label;
    this.total = total;
    this.events = events;
  }

  @Override
  public void write(int b) throws IOException {
    out.write(b);
    count(1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    out.write(b, off, len);
    count(len);
  }

  private void count(long n) {
    done += n;
    long now = System.nanoTime();
    if (now - last > 250_000_000L) {
      last = now;
      events.progress(label, done, Math.max(total, done), "bytes");
    }
  }

  @Override
  public void close() throws IOException {
    super.close();
    // the total is the payload's size; tar headers and padding add a little
    events.progress(label, done, Math.max(total, done), "bytes");
  }
}
