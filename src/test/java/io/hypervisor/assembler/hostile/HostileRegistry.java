package io.hypervisor.assembler.hostile;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A small registry on loopback that misbehaves on purpose, one way per instance: tokens issued
 * "in the past" (clock skew), tokens that arrive slowly and are stale on arrival, a token that is
 * not JSON, a blob trickled a byte at a time, a redirect to {@code file://}, a manifest of 10 MiB.
 * It serves one tiny image, {@code example.org/hello:1}, and records every request, so a test can
 * say how often a client asked. Loopback only, bounded: it is a test's adversary, not a service.
 */
final class HostileRegistry implements AutoCloseable {
  /** How it misbehaves. */
  enum Way { NONE, TOKEN_IN_THE_PAST, SLOW_STALE_TOKEN, GARBAGE_TOKEN, TRICKLE_BLOB, REDIRECT_TO_FILE, HUGE_MANIFEST }

  static final String REPO = "hello";
  final byte[] layer = "hello layer content, not a real tar".repeat(20).getBytes(StandardCharsets.UTF_8);
  final byte[] config;
  final byte[] manifest;
  private final Way way;
  private final HttpServer server;
  private final List<String> requests = new CopyOnWriteArrayList<>();

  HostileRegistry() throws IOException {
    this(Way.NONE);
  }

  HostileRegistry(Way way) throws IOException {
    this.way = way;
    config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\""
        + Digest.sha256(layer) + "\"]}}").getBytes(StandardCharsets.UTF_8);
    manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + Digest.sha256(config)
        + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
        + "\"digest\":\"" + Digest.sha256(layer) + "\",\"size\":" + layer.length + "}]}").getBytes(StandardCharsets.UTF_8);
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    server.createContext("/", this::handle);
    server.setExecutor(Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "hostile-registry");
      t.setDaemon(true);
      return t;
    }));
    server.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Every request so far, as "METHOD path". */
  List<String> requests() {
    return List.copyOf(requests);
  }

  long count(String prefix) {
    return requests.stream().filter(r -> r.startsWith(prefix)).count();
  }

  private boolean tokens() {
    return way == Way.TOKEN_IN_THE_PAST || way == Way.SLOW_STALE_TOKEN || way == Way.GARBAGE_TOKEN;
  }

  private void handle(HttpExchange x) throws IOException {
    String path = x.getRequestURI().getPath();
    requests.add(x.getRequestMethod() + " " + path);
    try (x) {
      if (path.equals("/token")) {
        token(x);
        return;
      }
      if (tokens() && !"Bearer good-token".equals(x.getRequestHeaders().getFirst("Authorization"))) {
        x.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"" + url() + "/token\",service=\"hostile\"");
        send(x, 401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".getBytes());
        return;
      }
      if (path.equals("/v2/") || path.equals("/v2")) {
        send(x, 200, "application/json", "{}".getBytes());
      } else if (path.equals("/v2/" + REPO + "/manifests/1") || path.equals("/v2/" + REPO + "/manifests/"
          + Digest.sha256(manifest))) {
        if (way == Way.REDIRECT_TO_FILE) {
          x.getResponseHeaders().add("Location", "file:///etc/passwd");
          send(x, 302, "text/plain", new byte[0]);
        } else if (way == Way.HUGE_MANIFEST) {
          byte[] big = new byte[10 << 20];
          java.util.Arrays.fill(big, (byte) ' ');
          send(x, 200, "application/vnd.oci.image.manifest.v1+json", big);
        } else {
          x.getResponseHeaders().add("Docker-Content-Digest", Digest.sha256(manifest).toString());
          send(x, 200, "application/vnd.oci.image.manifest.v1+json", manifest);
        }
      } else if (path.equals("/v2/" + REPO + "/blobs/" + Digest.sha256(config))) {
        send(x, 200, "application/octet-stream", config);
      } else if (path.equals("/v2/" + REPO + "/blobs/" + Digest.sha256(layer))) {
        if (way == Way.TRICKLE_BLOB) {
          trickle(x, layer);
        } else {
          send(x, 200, "application/octet-stream", layer);
        }
      } else {
        send(x, 404, "application/json", "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}".getBytes());
      }
    }
  }

  private void token(HttpExchange x) throws IOException {
    switch (way) {
      case GARBAGE_TOKEN -> send(x, 200, "text/html", "<html>not a token</html>".getBytes());
      case SLOW_STALE_TOKEN -> {
        sleep(1500);
        send(x, 200, "application/json", "{\"token\":\"good-token\",\"expires_in\":1}".getBytes());
      }
      default -> send(x, 200, "application/json",
          "{\"token\":\"good-token\",\"expires_in\":60,\"issued_at\":\"2001-01-01T00:00:00Z\"}".getBytes());
    }
  }

  /** One byte every 400 ms: never silent long enough for a stall timeout. */
  private void trickle(HttpExchange x, byte[] body) throws IOException {
    x.getResponseHeaders().add("Content-Type", "application/octet-stream");
    x.sendResponseHeaders(200, body.length);
    try (OutputStream o = x.getResponseBody()) {
      for (byte b : body) {
        o.write(b);
        o.flush();
        sleep(400);
      }
    } catch (IOException gone) {
      // the client gave up, as it should
    }
  }

  private static void send(HttpExchange x, int status, String type, byte[] body) throws IOException {
    x.getResponseHeaders().add("Content-Type", type);
    x.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      try (OutputStream o = x.getResponseBody()) {
        o.write(body);
      } catch (IOException gone) {
        // the client stopped reading
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
