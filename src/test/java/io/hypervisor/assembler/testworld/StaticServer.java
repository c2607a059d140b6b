package io.hypervisor.assembler.testworld;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A read-only HTTP file server on a loopback address: serves a package repository to the tests, or
 * plays the storage host a registry redirects blob downloads to. Supports HEAD and single
 * {@code Range: bytes=a-[b]} requests, and logs every request with its headers so tests can assert
 * what a client sent (for example that no Authorization crossed a redirect).
 */
public final class StaticServer implements AutoCloseable {
  /** A request as the server saw it. */
  public record Request(String method, String path, Map<String, List<String>> headers) {
    public boolean hasAuthorization() {
      return headers.keySet().stream().anyMatch(h -> h.equalsIgnoreCase("Authorization"));
    }
  }

  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d*)");
  private final HttpServer server;
  private final Path root;
  private final List<Request> log = new CopyOnWriteArrayList<>();

  /** Serves {@code root} on {@code host} (e.g. 127.0.0.1 or 127.0.0.2), on a free port. */
  public StaticServer(Path root, String host) throws IOException {
    this(root, host, 0);
  }

  /** Serves {@code root} on {@code host} and {@code port} (0: a free one), e.g. the port a stand-in image names. */
  public StaticServer(Path root, String host, int port) throws IOException {
    this.root = root;
    server = HttpServer.create(new InetSocketAddress(host, port), 64);
    server.createContext("/", this::handle);
    server.setExecutor(Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "static-server");
      t.setDaemon(true);
      return t;
    }));
    server.start();
  }

  public String url() {
    return "http://" + server.getAddress().getHostString() + ":" + server.getAddress().getPort();
  }

  public List<Request> requests() {
    return List.copyOf(log);
  }

  private void handle(HttpExchange ex) throws IOException {
    log.add(new Request(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), Map.copyOf(ex.getRequestHeaders())));
    try (ex) {
      String path = URLDecoder.decode(ex.getRequestURI().getRawPath(), StandardCharsets.UTF_8);
      Path file = root.resolve(path.replaceFirst("^/+", "")).normalize();
      if (!file.startsWith(root) || !Files.isRegularFile(file)) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      long size = Files.size(file);
      long start = 0;
      long end = size - 1;
      int status = 200;
      String range = ex.getRequestHeaders().getFirst("Range");
      if (range != null) {
        Matcher m = RANGE.matcher(range);
        if (m.matches()) {
          start = Long.parseLong(m.group(1));
          end = m.group(2).isEmpty() ? size - 1 : Math.min(size - 1, Long.parseLong(m.group(2)));
          if (start >= size) {
            ex.getResponseHeaders().set("Content-Range", "bytes */" + size);
            ex.sendResponseHeaders(416, -1);
            return;
          }
          status = 206;
          ex.getResponseHeaders().set("Content-Range", "bytes " + start + "-" + end + "/" + size);
        }
      }
      ex.getResponseHeaders().set("Accept-Ranges", "bytes");
      long length = end - start + 1;
      if (ex.getRequestMethod().equals("HEAD")) {
        ex.getResponseHeaders().set("Content-Length", Long.toString(length));
        ex.sendResponseHeaders(status, -1);
        return;
      }
      ex.sendResponseHeaders(status, length);
      try (InputStream in = Files.newInputStream(file); OutputStream out = ex.getResponseBody()) {
        in.skipNBytes(start);
        byte[] buf = new byte[1 << 16];
        long left = length;
        while (left > 0) {
          int n = in.read(buf, 0, (int) Math.min(buf.length, left));
          if (n < 0) {
            break;
          }
          out.write(buf, 0, n);
          left -= n;
        }
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
