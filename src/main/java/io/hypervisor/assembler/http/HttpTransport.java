package io.hypervisor.assembler.http;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.AssemblerException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLSocketFactory;

/**
 * The assembler's only way onto the network. Every request: redirects followed by hand (at most
 * {@code maxRedirects}; no https→http downgrade; credentials asked per hop, so they never cross
 * an origin), a 401 handed to the {@link Authenticator} once per hop, retries with exponential
 * backoff and jitter on 408/429/5xx and I/O errors honouring Retry-After, each retry starting
 * again from the original URL (signed redirect URLs expire). Downloads stream into a
 * {@link BodySink}, resume with Range (a 206 must start exactly at the offset and name the
 * expected total; a 200 restarts from zero), and stop when no byte arrives for the stall timeout.
 *
 * <p>The engine is the JDK's blocking HttpURLConnection, HTTP/1.1 only, rather than
 * java.net.http: the assembler runs as a fresh JVM per command, and measured on this project's
 * machines a cold JVM moved a 1 GiB image in about half the time with blocking streams (the
 * asynchronous client's machinery is still interpreted while it matters). A blocking read also
 * carries the stall watchdog itself: the socket read timeout fires when no byte arrives.
 */
public final class HttpTransport {
  static {
    // Four parallel layer downloads plus manifest and token requests per registry host.
    if (System.getProperty("http.maxConnections") == null) {
      System.setProperty("http.maxConnections", "16");
    }
  }

  /** A small, fully read response. */
  public record Response(int status, Map<String, List<String>> headerMap, byte[] body, URI uri) {
    public String header(String name) {
      for (Map.Entry<String, List<String>> e : headerMap.entrySet()) {
        if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
          return e.getValue().get(0);
        }
      }
      return null;
    }

    public List<String> headers(String name) {
      List<String> out = new ArrayList<>();
      headerMap.forEach((k, v) -> {
        if (k != null && k.equalsIgnoreCase(name)) {
          out.addAll(v);
        }
      });
      return out;
    }

    public boolean ok() {
      return status >= 200 && status < 300;
    }
  }

  /** Where a download's bytes go; implemented by the content store's ingest. */
  public interface BodySink {
    /** Bytes already held (the Range offset to continue from). */
    long offset();

    void write(ByteBuffer b) throws IOException;

    /** Discard everything held (the server ignored Range). */
    void restart() throws IOException;

    /** A sink from three functions, e.g. {@code BodySink.of(ingest::offset, ingest::write, ingest::restart)}. */
    static BodySink of(java.util.function.LongSupplier offset, Writer write, Restart restart) {
      return new BodySink() {
        @Override
        public long offset() {
          return offset.getAsLong();
        }

        @Override
        public void write(ByteBuffer b) throws IOException {
          write.write(b);
        }

        @Override
        public void restart() throws IOException {
          restart.restart();
        }
      };
    }

    /** {@link #write}, as a function. */
    @FunctionalInterface
    interface Writer {
      void write(ByteBuffer b) throws IOException;
    }

    /** {@link #restart}, as a function. */
    @FunctionalInterface
    interface Restart {
      void restart() throws IOException;
    }
  }

  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
  private static final String USER_AGENT = "assemble/0.1 (node-image assembler)";

  private final HttpSettings settings;
  private final EventSink events;
  private final EnvironmentProxy proxy;
  private final Function<String, Tls> tlsByAuthority;
  private final Map<Tls, SSLSocketFactory> factories = new ConcurrentHashMap<>();

  /**
   * A transport; refuses to exist when {@code settings.offline()} (so offline builds cannot touch
   * the network by accident). {@code tlsByAuthority} gives each host:port its TLS settings.
   */
  public HttpTransport(HttpSettings settings, EventSink events, Map<String, String> environment,
      Function<String, Tls> tlsByAuthority) {
    if (settings.offline()) {
      throw AssemblerException.input("network access refused: this run is offline",
          "fetch on a connected host first (assemble fetch RECIPE --bundle site.tar), then build with --bundle");
    }
    this.settings = settings;
    this.events = events;
    this.proxy = new EnvironmentProxy(environment);
    this.tlsByAuthority = tlsByAuthority == null ? a -> Tls.DEFAULT : tlsByAuthority;
  }

  public HttpTransport(HttpSettings settings, EventSink events) {
    this(settings, events, System.getenv(), null);
  }

  public HttpSettings settings() {
    return settings;
  }

  // ---------------------------------------------------------------------------------------------
  // Small requests

  /**
   * Sends a request whose answer fits in memory (at most {@code maxBytes}), following redirects
   * and retrying transient failures. Non-retryable statuses (404, 401 after auth …) are returned,
   * not thrown: the caller knows what they mean.
   */
  public Response send(String method, URI uri, Map<String, List<String>> headers, Authenticator auth,
      long maxBytes) throws IOException {
    return send(method, uri, headers, (Body) null, auth, maxBytes);
  }

  /**
   * A request body that can be sent again (after a 401, a redirect or a retry): bytes in memory,
   * or a range of a file streamed from disk.
   */
  public interface Body {
    long length();

    void writeTo(OutputStream out) throws IOException;

    static Body of(byte[] bytes) {
      return new Body() {
        @Override
        public long length() {
          return bytes.length;
        }

        @Override
        public void writeTo(OutputStream out) throws IOException {
          out.write(bytes);
        }
      };
    }

    /** {@code length} bytes of {@code file} from {@code offset}; {@code progress} gets each count sent. */
    static Body ofFile(java.nio.file.Path file, long offset, long length, java.util.function.LongConsumer progress) {
      return new Body() {
        @Override
        public long length() {
          return length;
        }

        @Override
        public void writeTo(OutputStream out) throws IOException {
          try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
              b.clear().limit((int) Math.min(b.capacity(), end - pos));
              int n = ch.read(b, pos);
              if (n < 0) {
                throw new IOException(file + " ends at " + pos + ", before the " + length + " bytes to send");
              }
              out.write(b.array(), 0, n);
              pos += n;
              progress.accept(n);
            }
          }
        }
      };
    }
  }

  /** As {@link #send(String, URI, Map, Authenticator, long)}, with a request body (a form, JSON). */
  public Response send(String method, URI uri, Map<String, List<String>> headers, byte[] body,
      Authenticator auth, long maxBytes) throws IOException {
    return send(method, uri, headers, body == null ? null : Body.of(body), auth, maxBytes);
  }

  /**
   * As above with any body, PATCH included (the JDK's HttpURLConnection cannot send PATCH, so
   * PATCH goes through java.net.http with the same TLS, proxy and authentication; registries
   * never redirect an upload chunk).
   */
  public Response send(String method, URI uri, Map<String, List<String>> headers, Body body,
      Authenticator auth, long maxBytes) throws IOException {
    if (method.equals("PATCH")) {
      return withRetries(method + " " + redact(uri), attempt -> patch(uri, headers, body, auth, maxBytes));
    }
    return withRetries(method + " " + redact(uri), attempt -> {
      Exchange x = exchange(method, uri, headers, body, auth, null, settings.headersTimeout());
      try {
        byte[] answer = method.equals("HEAD") ? new byte[0] : readCapped(x.stream(), maxBytes, x.uri);
        return new Response(x.status, x.headers, answer, x.uri);
      } finally {
        x.close();
      }
    });
  }

  public Response get(URI uri, Map<String, List<String>> headers, Authenticator auth, long maxBytes)
      throws IOException {
    return send("GET", uri, headers, auth, maxBytes);
  }

  private static byte[] readCapped(InputStream in, long max, URI uri) throws IOException {
    if (in == null) {
      return new byte[0];
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[16384];
    for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
      out.write(buf, 0, n);
      if (out.size() > max) {
        throw new IOException("response from " + redact(uri) + " is larger than " + max + " bytes");
      }
    }
    return out.toByteArray();
  }

  // ---------------------------------------------------------------------------------------------
  // Downloads

  /**
   * Downloads {@code expectedSize} bytes (or, when -1, whatever comes) into the sink, continuing
   * from {@code sink.offset()}. Progress is reported under {@code label}. Returns when every byte
   * is in the sink; verification is the sink owner's job.
   */
  public void download(URI uri, Map<String, List<String>> headers, Authenticator auth, BodySink sink,
      long expectedSize, String label) throws IOException {
    if (expectedSize >= 0 && sink.offset() == expectedSize) {
      return;
    }
    Progress progress = new Progress(label, expectedSize);
    long deadline = System.nanoTime() + settings.deadline(expectedSize).toNanos();
    withRetries("GET " + redact(uri), deadline, attempt -> {
      long offset = sink.offset();
      Exchange x = exchange("GET", uri, headers, null, auth, offset > 0 ? "bytes=" + offset + "-" : null,
          settings.stallTimeout());
      try {
        if (x.status == 206 && offset > 0) {
          String cr = x.header("Content-Range");
          Matcher m = CONTENT_RANGE.matcher(cr == null ? "" : cr);
          if (!m.matches() || Long.parseLong(m.group(1)) != offset
              || (expectedSize >= 0 && !m.group(3).equals(Long.toString(expectedSize)))) {
            throw new IOException("resuming " + redact(x.uri) + " at byte " + offset
                + ": the server answered Content-Range \"" + cr + "\"");
          }
        } else if (x.status == 200) {
          if (offset > 0) {
            sink.restart();
          }
        } else {
          throw new StatusException(x.status, x.headers, "GET " + redact(x.uri) + " answered " + x.status);
        }
        copy(x, sink, progress, deadline);
      } catch (IOException e) {
        if (sink.offset() > offset && !(e instanceof StatusException) && !(e instanceof InterruptedIOException)
            && !(e instanceof SinkFailure)) {
          // Progress was made: a retry resumes where this attempt stopped; do not count it as a
          // failed attempt (c/image's rule, registry-client.md §1.5).
          throw new Resumable(e);
        }
        throw e;
      } finally {
        x.close();
      }
      if (expectedSize >= 0 && sink.offset() != expectedSize) {
        throw new Resumable(new IOException("connection ended after " + sink.offset() + " of "
            + expectedSize + " bytes"));
      }
      return null;
    });
    progress.done(sink.offset());
  }

  /**
   * Copies the body into the sink, watching it: no byte for the stall timeout (the socket's read
   * timeout), less than the minimum rate over a window (a trickle that keeps the socket alive),
   * or past the download's deadline, and the attempt ends.
   */
  private void copy(Exchange x, BodySink sink, Progress progress, long deadline) throws IOException {
    InputStream in = x.stream();
    byte[] buf = new byte[1 << 18];
    ByteBuffer bb = ByteBuffer.wrap(buf);
    long window = settings.rateWindow().toNanos();
    long windowStart = System.nanoTime();
    long windowBytes = 0;
    try {
      while (true) {
        int n = in.read(buf);
        if (n < 0) {
          return;
        }
        if (Thread.currentThread().isInterrupted()) {
          throw new InterruptedIOException("interrupted downloading " + redact(x.uri));
        }
        long now = System.nanoTime();
        if (now - deadline > 0) {
          throw new DeadlineExceeded("download of " + redact(x.uri) + " did not finish within "
              + settings.deadline(progress.total).toMinutes() + " min (" + sink.offset() + " bytes so far)");
        }
        windowBytes += n;
        if (now - windowStart >= window) {
          long need = settings.minBytesPerSecond() * settings.rateWindow().toSeconds();
          if (windowBytes < need) {
            throw new IOException("download of " + redact(x.uri) + " is too slow: " + windowBytes + " bytes in "
                + settings.rateWindow().toSeconds() + " s, at least " + need + " expected");
          }
          windowStart = now;
          windowBytes = 0;
        }
        bb.clear().limit(n);
        try {
          sink.write(bb);
        } catch (IOException e) {
          throw new SinkFailure(e);
        }
        progress.at(sink.offset());
      }
    } catch (SocketTimeoutException e) {
      throw new IOException("download of " + redact(x.uri) + " stalled: no data for "
          + settings.stallTimeout().toSeconds() + " s after " + sink.offset() + " bytes", e);
    }
  }

  /**
   * The sink refused the bytes (more than the expected size, a full disk): not the network's
   * fault, so never retried; the sink's own exception is what the caller sees.
   */
  private static final class SinkFailure extends IOException {
    private static final long serialVersionUID = 1L;

    SinkFailure(IOException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /** A download past its deadline: over, whatever else could be retried. */
  private static final class DeadlineExceeded extends IOException {
    private static final long serialVersionUID = 1L;

    DeadlineExceeded(String message) {
      super(message);
    }
  }

  /** An I/O failure after which the next attempt can continue (and which costs no attempt). */
  private static final class Resumable extends IOException {
    private static final long serialVersionUID = 1L;

    Resumable(IOException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /** Throttled progress events for one download (none for small ones: they are over at once). */
  private final class Progress {
    private final String label;
    private final long total;
    private final boolean quiet;
    private long lastEmit = System.nanoTime();

    Progress(String label, long total) {
      this.label = label;
      this.total = total;
      this.quiet = total >= 0 && total < (1 << 20);
    }

    void at(long done) {
      long now = System.nanoTime();
      if (!quiet && now - lastEmit > 200_000_000L) {
        lastEmit = now;
        events.progress(label, done, total, "bytes");
      }
    }

    void done(long done) {
      if (!quiet) {
        events.progress(label, done, total >= 0 ? total : done, "bytes");
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One request, redirects and auth

  /** The final answer of an exchange: status, headers and the open connection to read. */
  private static final class Exchange {
    final HttpURLConnection connection;
    final int status;
    final Map<String, List<String>> headers;
    final URI uri;

    Exchange(HttpURLConnection connection, int status, URI uri) {
      this.connection = connection;
      this.status = status;
      this.uri = uri;
      Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      connection.getHeaderFields().forEach((k, v) -> {
        if (k != null) {
          h.put(k, v);
        }
      });
      this.headers = h;
    }

    String header(String name) {
      List<String> v = headers.get(name);
      return v == null || v.isEmpty() ? null : v.get(0);
    }

    InputStream stream() throws IOException {
      return status >= 400 ? connection.getErrorStream() : connection.getInputStream();
    }

    void close() {
      // Reading to the end returns the connection to the keep-alive pool; a body left unread
      // (an error, a cancelled download) must not be reused.
      try {
        InputStream in = stream();
        if (in != null) {
          in.close();
        }
      } catch (IOException e) {
        connection.disconnect();
      }
    }
  }

  private HttpURLConnection open(URI uri, String method, Duration readTimeout) throws IOException {
    Proxy p = proxy.configured() ? proxy.select(uri).get(0) : Proxy.NO_PROXY;
    HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection(p);
    c.setInstanceFollowRedirects(false);
    c.setUseCaches(false);
    c.setConnectTimeout((int) settings.connectTimeout().toMillis());
    c.setReadTimeout((int) readTimeout.toMillis());
    c.setRequestMethod(method);
    c.setRequestProperty("User-Agent", USER_AGENT);
    if (c instanceof HttpsURLConnection https) {
      Tls tls = tlsByAuthority.apply(uri.getAuthority());
      if (tls != null && !tls.isDefault()) {
        SSLSocketFactory f = factories.get(tls);
        if (f == null) {
          f = tls.context().getSocketFactory();
          factories.put(tls, f);
        }
        https.setSSLSocketFactory(f);
        if (tls.skipVerify()) {
          https.setHostnameVerifier((host, session) -> true);
        }
      }
    }
    return c;
  }

  /** Follows redirects and answers 401s until a request gives its final answer. */
  private Exchange exchange(String method, URI start, Map<String, List<String>> headers, Body body,
      Authenticator auth, String range, Duration readTimeout) throws IOException {
    URI uri = start;
    boolean retriedAuth = false;
    for (int hop = 0; hop <= settings.maxRedirects(); hop++) {
      String authorization = auth.authorization(uri);
      HttpURLConnection c = open(uri, method, readTimeout);
      headers.forEach((k, vs) -> {
        if (!vs.isEmpty()) {
          c.setRequestProperty(k, String.join(", ", vs));
        }
      });
      if (authorization != null) {
        c.setRequestProperty("Authorization", authorization);
      }
      if (range != null) {
        c.setRequestProperty("Range", range);
      }
      if (body != null) {
        c.setDoOutput(true);
        c.setFixedLengthStreamingMode(body.length());
        try (OutputStream out = c.getOutputStream()) {
          body.writeTo(out);
        }
      }
      int s;
      try {
        s = c.getResponseCode();
      } catch (SocketTimeoutException e) {
        c.disconnect();
        throw new IOException("no answer from " + redact(uri) + " within " + readTimeout.toSeconds() + " s", e);
      }
      Exchange x = new Exchange(c, s, uri);
      if (isRedirect(s)) {
        x.close();
        String location = x.header("Location");
        if (location == null) {
          throw new IOException(method + " " + redact(start) + ": redirect " + s + " without Location");
        }
        URI next;
        try {
          next = uri.resolve(location);
        } catch (IllegalArgumentException e) {
          throw new HttpException(method + " " + redact(start) + ": redirect " + s + " to a malformed Location", s, null);
        }
        if (!"http".equals(next.getScheme()) && !"https".equals(next.getScheme())) {
          // file:, jar:, ftp: … would read local files or leave HTTP's rules behind.
          throw io.hypervisor.assembler.model.AssemblerException.input(method + " " + redact(start)
              + ": refusing a redirect to a " + next.getScheme() + ": URL (only http and https are followed)",
              "the server (or a proxy) is misconfigured or hostile; check the registry or mirror URL");
        }
        if ("https".equals(uri.getScheme()) && !"https".equals(next.getScheme())) {
          throw new IOException(method + " " + redact(start) + ": refusing a redirect from https to "
              + next.getScheme());
        }
        uri = next;
        retriedAuth = false;
        continue;
      }
      if (s == 401) {
        x.close();
        List<String> challenges = x.headers.getOrDefault("WWW-Authenticate", List.of());
        if (!retriedAuth && auth.unauthorized(uri, challenges, authorization)) {
          retriedAuth = true;
          hop--;
          continue;
        }
        throw new StatusException(401, x.headers, method + " " + redact(uri) + ": 401 unauthorized"
            + (authorization == null ? " (no credentials for this host)" : " (credentials refused)"));
      }
      return x;
    }
    throw new IOException(method + " " + redact(start) + ": more than " + settings.maxRedirects() + " redirects");
  }

  /** java.net.http clients by TLS settings, for PATCH only. */
  private final Map<Tls, java.net.http.HttpClient> patchClients = new ConcurrentHashMap<>();

  private Response patch(URI uri, Map<String, List<String>> headers, Body body, Authenticator auth, long maxBytes)
      throws IOException {
    Tls tls = "https".equals(uri.getScheme()) ? tlsByAuthority.apply(uri.getAuthority()) : Tls.DEFAULT;
    Tls key = tls == null ? Tls.DEFAULT : tls;
    key.context(); // TLS settings that cannot load fail here, as an IOException
    java.net.http.HttpClient client = patchClients.computeIfAbsent(key, t -> {
      java.net.http.HttpClient.Builder b = java.net.http.HttpClient.newBuilder()
          .version(java.net.http.HttpClient.Version.HTTP_1_1).connectTimeout(settings.connectTimeout())
          .followRedirects(java.net.http.HttpClient.Redirect.NEVER);
      if (!t.isDefault()) {
        try {
          b.sslContext(t.context());
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
      if (proxy.configured()) {
        b.proxy(new java.net.ProxySelector() {
          @Override
          public List<Proxy> select(URI u) {
            return proxy.select(u);
          }

          @Override
          public void connectFailed(URI u, java.net.SocketAddress sa, IOException ioe) {
            // the request fails and is retried like any other
          }
        });
      }
      return b.build();
    });
    String previous = null;
    for (int round = 0; round < 2; round++) {
      String authorization = auth.authorization(uri);
      java.net.http.HttpRequest.Builder rb = java.net.http.HttpRequest.newBuilder(uri)
          .timeout(settings.headersTimeout()).header("User-Agent", USER_AGENT)
          .method("PATCH", java.net.http.HttpRequest.BodyPublishers.fromPublisher(
              java.net.http.HttpRequest.BodyPublishers.ofInputStream(() -> pipe(body)), body.length()));
      headers.forEach((k, vs) -> {
        if (!vs.isEmpty()) {
          rb.header(k, String.join(", ", vs));
        }
      });
      if (authorization != null) {
        rb.header("Authorization", authorization);
      }
      java.net.http.HttpResponse<InputStream> r;
      try {
        r = client.send(rb.build(), java.net.http.HttpResponse.BodyHandlers.ofInputStream());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("PATCH " + redact(uri) + " interrupted");
      }
      Map<String, List<String>> h = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      h.putAll(r.headers().map());
      byte[] answer;
      try (InputStream in = r.body()) {
        answer = readCapped(in, maxBytes, uri);
      }
      if (r.statusCode() == 401 && round == 0
          && auth.unauthorized(uri, h.getOrDefault("WWW-Authenticate", List.of()), authorization)) {
        previous = authorization;
        continue;
      }
      if (r.statusCode() == 401) {
        throw new StatusException(401, h, "PATCH " + redact(uri) + ": 401 unauthorized"
            + (previous == null && authorization == null ? " (no credentials for this host)" : " (credentials refused)"));
      }
      return new Response(r.statusCode(), h, answer, uri);
    }
    throw new IOException("PATCH " + redact(uri) + ": refused twice");
  }

  /** The body as a stream, written by a thread of its own (java.net.http pulls what it sends). */
  private static InputStream pipe(Body body) {
    try {
      java.io.PipedInputStream in = new java.io.PipedInputStream(1 << 20);
      java.io.PipedOutputStream out = new java.io.PipedOutputStream(in);
      Thread t = new Thread(() -> {
        try (out) {
          body.writeTo(out);
        } catch (IOException e) {
          // the reader sees the stream end early and the request fails
        }
      }, "http-body");
      t.setDaemon(true);
      t.start();
      return in;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static boolean isRedirect(int s) {
    return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
  }

  /** A status that the retry policy may act on. */
  static final class StatusException extends IOException {
    private static final long serialVersionUID = 1L;
    final int status;
    final transient Map<String, List<String>> headers;

    StatusException(int status, Map<String, List<String>> headers, String message) {
      super(message);
      this.status = status;
      this.headers = headers;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Retries

  /** One attempt of an exchange. */
  @FunctionalInterface
  private interface Attempt<T> {
    T run(int attempt) throws IOException;
  }

  private <T> T withRetries(String what, Attempt<T> attempt) throws IOException {
    return withRetries(what, Long.MAX_VALUE, attempt);
  }

  /** Attempts until success, a failure that cannot change, the retry or resume budget, or the deadline (nanoTime). */
  private <T> T withRetries(String what, long deadline, Attempt<T> attempt) throws IOException {
    int failures = 0;
    int resumes = 0;
    int lastStatus = -1;
    for (int i = 1; ; i++) {
      Duration wait;
      if (deadline != Long.MAX_VALUE && System.nanoTime() - deadline > 0) {
        throw new HttpException(what + ": did not finish in time (" + resumes + " resumes, " + failures
            + " failed attempts)", lastStatus, null);
      }
      try {
        T result = attempt.run(i);
        if (result instanceof Response r && retryable(r.status()) && failures + 1 < settings.maxAttempts()) {
          failures++;
          lastStatus = r.status();
          wait = delay(failures, r.headerMap());
          events.debug(what + " answered " + r.status() + "; retrying in " + wait.toMillis() + " ms");
        } else {
          return result;
        }
      } catch (Resumable e) {
        if (++resumes > settings.maxResumes()) {
          throw new HttpException(what + ": gave up after " + settings.maxResumes() + " interrupted transfers: "
              + e.getMessage(), -1, e);
        }
        events.debug(what + ": " + e.getMessage() + "; resuming");
        continue;
      } catch (StatusException e) {
        lastStatus = e.status;
        if (!retryable(e.status) || ++failures >= settings.maxAttempts()) {
          throw new HttpException(e.getMessage(), e.status, e);
        }
        wait = delay(failures, e.headers);
        events.debug(what + ": " + e.getMessage() + "; retrying in " + wait.toMillis() + " ms");
      } catch (SinkFailure e) {
        throw (IOException) e.getCause();
      } catch (HttpException | InterruptedIOException e) {
        throw e;
      } catch (DeadlineExceeded e) {
        throw new HttpException(what + ": " + e.getMessage(), lastStatus, e);
      } catch (IOException e) {
        if (!transientError(e) || ++failures >= settings.maxAttempts()) {
          throw new HttpException(what + " failed after " + Math.max(1, failures) + " attempt(s): " + describe(e),
              lastStatus, e);
        }
        wait = delay(failures, null);
        events.debug(what + ": " + describe(e) + "; retrying in " + wait.toMillis() + " ms");
      }
      try {
        Thread.sleep(wait.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting to retry " + what);
      }
    }
  }

  static boolean retryable(int status) {
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
  }

  /**
   * Only what an unreliable network produces is worth another try: a refused or reset connection
   * (a registry restarting), a timeout, a body cut short. What would fail the same way again is
   * not retried: TLS and certificate errors, unknown hosts, an oversized or unreadable answer, a
   * token or manifest that does not parse, a resume answered with the wrong range.
   */
  static boolean transientError(IOException e) {
    if (e instanceof javax.net.ssl.SSLException || e instanceof java.net.UnknownHostException) {
      return false;
    }
    String m = e.getMessage() == null ? "" : e.getMessage();
    return e instanceof java.net.SocketException || e instanceof SocketTimeoutException
        || e instanceof java.io.EOFException || m.startsWith("no answer from") || m.contains("Premature EOF")
        || m.contains("Unexpected end of file")
        || m.startsWith("download of") && (m.contains(" stalled: ") || m.contains(" is too slow: "));
  }

  private static String describe(IOException e) {
    if (e instanceof ConnectException) {
      return "connection refused";
    }
    if (e instanceof java.net.UnknownHostException) {
      return "unknown host " + e.getMessage();
    }
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  /** Backoff for the n-th failure, or the server's Retry-After (capped) when it gave one. */
  Duration delay(int failures, Map<String, List<String>> headers) {
    if (headers != null) {
      String ra = null;
      for (Map.Entry<String, List<String>> e : headers.entrySet()) {
        if (e.getKey() != null && e.getKey().equalsIgnoreCase("Retry-After") && !e.getValue().isEmpty()) {
          ra = e.getValue().get(0);
        }
      }
      Duration d = retryAfter(ra);
      if (d != null) {
        return d.compareTo(settings.maxRetryAfter()) > 0 ? settings.maxRetryAfter() : d;
      }
    }
    long base = settings.initialBackoff().toMillis() << Math.min(failures - 1, 16);
    long capped = Math.min(base, settings.maxBackoff().toMillis());
    long jitter = (long) (capped * 0.1 * ThreadLocalRandom.current().nextDouble());
    return Duration.ofMillis(capped + jitter);
  }

  /** Retry-After as delta-seconds or an HTTP date; null when absent or unreadable. */
  static Duration retryAfter(String value) {
    if (value == null || value.isBlank()) {
      return null;
    }
    String v = value.trim();
    if (v.matches("\\d+")) {
      return Duration.ofSeconds(Long.parseLong(v));
    }
    try {
      Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      Duration d = Duration.between(Instant.now(), at);
      return d.isNegative() ? Duration.ZERO : d;
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  /** A URI for messages: no query (signed URLs carry credentials there), no user info. */
  public static String redact(URI uri) {
    if (uri == null) {
      return "?";
    }
    String s = uri.getScheme() + "://" + uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "")
        + (uri.getRawPath() == null ? "" : uri.getRawPath());
    return uri.getRawQuery() == null ? s : s + "?…";
  }

  static Map<String, List<String>> headers(String... kv) {
    Map<String, List<String>> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], List.of(kv[i + 1]));
    }
    return m;
  }

  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
