package io.hypervisor.assembler.testworld;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * An HTTP/1.1 reverse proxy in front of a test registry that injects faults on matching
 * requests: 429 with Retry-After, 5xx, a body cut after N bytes (connection closed), or a body
 * stalled after N bytes (connection kept open, nothing sent). Raw sockets, so the faults are on
 * the wire exactly as a misbehaving server or network produces them.
 */
public final class FaultProxy implements AutoCloseable {
  /** What to do to a matching request. */
  public sealed interface Fault {}

  /** Answer 429 Too Many Requests with a Retry-After of this many seconds. */
  public record TooManyRequests(int retryAfterSeconds) implements Fault {}

  /** Answer this status code with an error body. */
  public record Status(int code) implements Fault {}

  /** Send headers and this many body bytes, then close the connection. */
  public record Cut(long afterBytes) implements Fault {}

  /** Send headers and this many body bytes, then send nothing more (until the proxy closes). */
  public record Stall(long afterBytes) implements Fault {}

  /** Applies {@code fault} to the first {@code times} requests whose method and path match. */
  public record Rule(String method, Pattern path, int times, Fault fault, AtomicInteger used) {
    public Rule(String method, String pathRegex, int times, Fault fault) {
      this(method, Pattern.compile(pathRegex), times, fault, new AtomicInteger());
    }
  }

  /** A request that passed through, with the status it got. */
  public record Request(String method, String path, List<String[]> headers, int status, String fault) {
    /** Whether any header of this name was sent. */
    public boolean has(String name) {
      return headers.stream().anyMatch(h -> h[0].equalsIgnoreCase(name));
    }
  }

  private static final Set<String> HOP = Set.of("connection", "keep-alive", "transfer-encoding", "te",
      "trailer", "upgrade", "proxy-authorization", "proxy-authenticate", "host", "content-length");
  private final ServerSocket server;
  private final String backend;
  private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(5)).build();
  private final List<Rule> rules = new CopyOnWriteArrayList<>();
  private final List<Request> log = new CopyOnWriteArrayList<>();
  private final List<Socket> open = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  public FaultProxy(String backendUrl) throws IOException {
    this.backend = backendUrl.replaceAll("/+$", "");
    server = new ServerSocket(0, 64, InetAddress.getByName("127.0.0.1"));
    Thread t = new Thread(this::accept, "fault-proxy");
    t.setDaemon(true);
    t.start();
  }

  public String url() {
    return "http://127.0.0.1:" + server.getLocalPort();
  }

  public void inject(Rule rule) {
    rules.add(rule);
  }

  public void clearFaults() {
    rules.clear();
  }

  public List<Request> requests() {
    return List.copyOf(log);
  }

  private void accept() {
    while (!closed) {
      try {
        Socket s = server.accept();
        open.add(s);
        Thread t = new Thread(() -> serve(s), "fault-proxy-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    try (s) {
      InputStream in = new BufferedInputStream(s.getInputStream());
      OutputStream out = s.getOutputStream();
      while (!closed) {
        String line = readLine(in);
        if (line == null || line.isEmpty()) {
          return;
        }
        String[] req = line.split(" ");
        // A list, not a map: clients repeat headers (skopeo sends one Accept line per type).
        List<String[]> headers = new ArrayList<>();
        for (String h = readLine(in); h != null && !h.isEmpty(); h = readLine(in)) {
          int c = h.indexOf(':');
          headers.add(new String[] {h.substring(0, c).trim(), h.substring(c + 1).trim()});
        }
        byte[] body = new byte[0];
        String cl = header(headers, "Content-Length");
        if (cl != null) {
          body = in.readNBytes(Integer.parseInt(cl));
        }
        if (!handle(req[0], req[1], headers, body, out)) {
          return;
        }
      }
    } catch (IOException | InterruptedException e) {
      // the client went away, or the proxy closed
    } finally {
      open.remove(s);
    }
  }

  /** Answers one request; returns false when the connection must end. */
  private boolean handle(String method, String path, List<String[]> headers, byte[] body,
      OutputStream out) throws IOException, InterruptedException {
    Fault fault = null;
    for (Rule r : rules) {
      if ((r.method() == null || r.method().equals(method)) && r.path().matcher(path).find()
          && r.used().getAndIncrement() < r.times()) {
        fault = r.fault();
        break;
      }
    }
    if (fault instanceof TooManyRequests t) {
      log.add(new Request(method, path, headers, 429, "429"));
      byte[] b = "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down (injected)\"}]}".getBytes(StandardCharsets.UTF_8);
      write(out, 429, "Too Many Requests", Map.of("Retry-After", Integer.toString(t.retryAfterSeconds()),
          "Content-Type", "application/json"), b.length);
      out.write(b);
      out.flush();
      return true;
    }
    if (fault instanceof Status st) {
      log.add(new Request(method, path, headers, st.code(), "status"));
      byte[] b = "injected server error".getBytes(StandardCharsets.UTF_8);
      write(out, st.code(), "Injected", Map.of("Content-Type", "text/plain"), b.length);
      out.write(b);
      out.flush();
      return true;
    }
    HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(backend + path)).timeout(Duration.ofSeconds(60))
        .method(method, body.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    for (String[] h : headers) {
      if (!HOP.contains(h[0].toLowerCase(Locale.ROOT))) {
        rb.header(h[0], h[1]);
      }
    }
    HttpResponse<InputStream> resp = client.send(rb.build(), HttpResponse.BodyHandlers.ofInputStream());
    log.add(new Request(method, path, headers, resp.statusCode(), fault == null ? null : fault.getClass().getSimpleName()));
    Map<String, String> rh = new LinkedHashMap<>();
    resp.headers().map().forEach((k, v) -> {
      if (!HOP.contains(k.toLowerCase(Locale.ROOT)) && !k.startsWith(":")) {
        rh.put(k, String.join(", ", v));
      }
    });
    try (InputStream bodyIn = resp.body()) {
      long length;
      InputStream src = bodyIn;
      String len = resp.headers().firstValue("Content-Length").orElse(null);
      if (method.equals("HEAD")) {
        length = len == null ? 0 : Long.parseLong(len);
        write(out, resp.statusCode(), "Proxied", rh, length);
        out.flush();
        return true;
      }
      if (len != null) {
        length = Long.parseLong(len);
      } else {
        byte[] all = bodyIn.readAllBytes();
        length = all.length;
        src = new java.io.ByteArrayInputStream(all);
      }
      write(out, resp.statusCode(), "Proxied", rh, length);
      long limit = fault instanceof Cut c ? c.afterBytes() : fault instanceof Stall st ? st.afterBytes() : Long.MAX_VALUE;
      byte[] buf = new byte[1 << 16];
      long sent = 0;
      while (sent < length) {
        int n = src.read(buf, 0, (int) Math.min(buf.length, Math.min(length - sent, limit - sent)));
        if (n <= 0) {
          break;
        }
        out.write(buf, 0, n);
        sent += n;
        if (sent >= limit) {
          out.flush();
          if (fault instanceof Cut) {
            return false;
          }
          while (!closed) {
            Thread.sleep(200);
          }
          return false;
        }
      }
      out.flush();
      return true;
    }
  }

  private static void write(OutputStream out, int status, String reason, Map<String, String> headers,
      long length) throws IOException {
    StringBuilder b = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason).append("\r\n");
    headers.forEach((k, v) -> b.append(k).append(": ").append(v).append("\r\n"));
    b.append("Content-Length: ").append(length).append("\r\n\r\n");
    out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
  }

  private static String header(List<String[]> h, String name) {
    return h.stream().filter(e -> e[0].equalsIgnoreCase(name)).map(e -> e[1]).findFirst().orElse(null);
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        String s = b.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    for (Socket s : new ArrayList<>(open)) {
      s.close();
    }
  }
}
