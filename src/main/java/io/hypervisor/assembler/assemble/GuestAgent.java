package io.hypervisor.assembler.assemble;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The host end of qemu-guest-agent's virtio-serial channel (a qemu unix socket): QMP-style JSON
 * lines. The channel may hold stale bytes from an earlier client, so every conversation starts
 * with {@code guest-sync} and a fresh id, and replies before the matching one are dropped.
 */
final class GuestAgent implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final SocketChannel channel;
  private final Selector selector;
  private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

  private GuestAgent(SocketChannel channel) throws IOException {
    this.channel = channel;
    channel.configureBlocking(false);
    this.selector = Selector.open();
    channel.register(selector, SelectionKey.OP_READ);
  }

  static GuestAgent connect(Path socket) throws IOException {
    SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
    c.connect(UnixDomainSocketAddress.of(socket));
    return new GuestAgent(c);
  }

  /** Synchronises the channel; true when the agent answered within the timeout. */
  boolean sync(Duration timeout) throws IOException {
    long id = ThreadLocalRandom.current().nextLong(1, Integer.MAX_VALUE);
    send("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":" + id + "}}");
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      JsonNode r = receive(Duration.ofNanos(deadline - System.nanoTime()));
      if (r != null && r.path("return").asLong(-1) == id) {
        return true;
      }
    }
    return false;
  }

  /** Runs a command without arguments and returns its {@code return} value; an agent error is an IOException. */
  JsonNode execute(String command, Duration timeout) throws IOException {
    send("{\"execute\":\"" + command + "\"}");
    JsonNode r = receive(timeout);
    if (r == null) {
      throw new IOException("qemu-guest-agent did not answer " + command + " within " + timeout.toSeconds() + " s");
    }
    if (r.has("error")) {
      throw new IOException("qemu-guest-agent refused " + command + ": " + r.get("error").path("desc").asText());
    }
    return r.get("return");
  }

  private void send(String line) throws IOException {
    ByteBuffer b = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
    while (b.hasRemaining()) {
      channel.write(b);
    }
  }

  /** The next JSON reply line, or null at the timeout. */
  private JsonNode receive(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    ByteBuffer buf = ByteBuffer.allocate(8192);
    while (true) {
      byte[] have = pending.toByteArray();
      for (int i = 0; i < have.length; i++) {
        if (have[i] == '\n') {
          String line = new String(have, 0, i, StandardCharsets.UTF_8).trim();
          pending.reset();
          pending.write(have, i + 1, have.length - i - 1);
          // 0xFF is the agent's resync marker (guest-sync-delimited); skip it and blank lines
          line = line.replace("\u00ff", "");
          if (!line.isEmpty() && line.startsWith("{")) {
            return JSON.readTree(line);
          }
          have = pending.toByteArray();
          i = -1;
        }
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return null;
      }
      if (selector.select(Math.max(1, left / 1_000_000)) > 0) {
        selector.selectedKeys().clear();
        buf.clear();
        int n = channel.read(buf);
        if (n < 0) {
          throw new IOException("the guest agent channel closed");
        }
        pending.write(buf.array(), 0, n);
      }
    }
  }

  @Override
  public void close() throws IOException {
    selector.close();
    channel.close();
  }
}
