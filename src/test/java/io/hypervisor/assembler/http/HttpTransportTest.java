package io.hypervisor.assembler.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.testworld.FaultProxy;
import io.hypervisor.assembler.testworld.StaticServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The transport against loopback servers that redirect, refuse, throttle, cut and stall. */
class HttpTransportTest {
  static final HttpSettings FAST = HttpSettings.defaults().withBackoff(Duration.ofMillis(20), Duration.ofMillis(200))
      .withStallTimeout(Duration.ofSeconds(2));

  @TempDir
  Path dir;
  StaticServer files;
  HttpServer origin;
  final List<String> originAuth = new CopyOnWriteArrayList<>();
  byte[] blob;

  /** A sink in memory. */
  static final class MemorySink implements HttpTransport.BodySink {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    int restarts;

    @Override
    public long offset() {
      return out.size();
    }

    @Override
    public void write(ByteBuffer b) {
      byte[] a = new byte[b.remaining()];
      b.get(a);
      out.write(a, 0, a.length);
    }

    @Override
    public void restart() {
      out.reset();
      restarts++;
    }
  }

  static final Authenticator TOKEN_FOR_ORIGIN_ONLY = new Authenticator() {
    @Override
    public String authorization(URI uri) {
      return uri.getHost().equals("127.0.0.1") ? "Bearer registry-token" : null;
    }

    @Override
    public boolean unauthorized(URI uri, List<String> c, String previous) {
      return false;
    }
  };

  @BeforeEach
  void servers() throws IOException {
    blob = new byte[3 << 20];
    new Random(7).nextBytes(blob);
    Files.write(dir.resolve("blob"), blob);
    files = new StaticServer(dir, "127.0.0.2");
    origin = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    origin.createContext("/redirect", ex -> {
      originAuth.add(String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
      ex.getResponseHeaders().set("Location", files.url() + "/blob?X-Amz-Signature=secret");
      ex.sendResponseHeaders(307, -1);
      ex.close();
    });
    origin.createContext("/relative", ex -> {
      ex.getResponseHeaders().set("Location", "/redirect");
      ex.sendResponseHeaders(302, -1);
      ex.close();
    });
    origin.createContext("/loop", ex -> {
      ex.getResponseHeaders().set("Location", "/loop");
      ex.sendResponseHeaders(302, -1);
      ex.close();
    });
    origin.createContext("/no-range", ex -> {
      ex.sendResponseHeaders(200, blob.length);
      ex.getResponseBody().write(blob);
      ex.close();
    });
    origin.createContext("/lying-range", ex -> {
      ex.getResponseHeaders().set("Content-Range", "bytes 0-" + (blob.length - 1) + "/" + blob.length);
      ex.sendResponseHeaders(206, blob.length);
      ex.getResponseBody().write(blob);
      ex.close();
    });
    origin.start();
  }

  @AfterEach
  void stop() {
    files.close();
    origin.stop(0);
  }

  HttpTransport transport() {
    return new HttpTransport(FAST, EventSink.NONE, Map.of(), null);
  }

  String originUrl() {
    return "http://127.0.0.1:" + origin.getAddress().getPort();
  }

  @Test
  void credentialsStayWithTheirOriginAcrossRedirects() throws IOException {
    MemorySink sink = new MemorySink();
    transport().download(URI.create(originUrl() + "/relative"), Map.of(), TOKEN_FOR_ORIGIN_ONLY, sink,
        blob.length, "blob");
    assertArrayEquals(blob, sink.out.toByteArray());
    assertEquals(List.of("Bearer registry-token"), originAuth, "the origin got its token");
    List<StaticServer.Request> hops = files.requests();
    assertEquals(1, hops.size(), "one request per hop: the body is not fetched twice");
    assertFalse(hops.get(0).hasAuthorization(), "the storage host on another origin got none");
  }

  @Test
  void tooManyRedirectsAndDowngradesAreRefused() {
    HttpException loop = assertThrows(HttpException.class, () -> transport().get(URI.create(originUrl() + "/loop"),
        Map.of(), Authenticator.NONE, 1000));
    assertTrue(loop.getMessage().contains("more than 10 redirects"), loop.getMessage());
  }

  @Test
  void retryAfterIsHonouredAndFiveHundredsAreRetried() throws IOException {
    try (FaultProxy p = new FaultProxy(files.url())) {
      p.inject(new FaultProxy.Rule("GET", "/blob", 1, new FaultProxy.TooManyRequests(1)));
      p.inject(new FaultProxy.Rule("GET", "/blob", 1, new FaultProxy.Status(503)));
      long t0 = System.nanoTime();
      MemorySink sink = new MemorySink();
      transport().download(URI.create(p.url() + "/blob"), Map.of(), Authenticator.NONE, sink, blob.length, "blob");
      assertArrayEquals(blob, sink.out.toByteArray());
      assertTrue(System.nanoTime() - t0 >= 1_000_000_000L, "waited the server's Retry-After");
      assertEquals(List.of(429, 503, 200), p.requests().stream().map(FaultProxy.Request::status).toList());
    }
  }

  @Test
  void givesUpAfterTheRetryBudgetWithTheStatus() throws IOException {
    try (FaultProxy p = new FaultProxy(files.url())) {
      p.inject(new FaultProxy.Rule("GET", "/blob", 99, new FaultProxy.Status(502)));
      HttpException e = assertThrows(HttpException.class, () -> transport().download(URI.create(p.url() + "/blob"),
          Map.of(), Authenticator.NONE, new MemorySink(), blob.length, "blob"));
      assertEquals(502, e.status());
      assertEquals(FAST.maxAttempts(), p.requests().size());
    }
  }

  @Test
  void aCutBodyResumesWithRange() throws IOException {
    try (FaultProxy p = new FaultProxy(files.url())) {
      p.inject(new FaultProxy.Rule("GET", "/blob", 2, new FaultProxy.Cut(1 << 20)));
      MemorySink sink = new MemorySink();
      transport().download(URI.create(p.url() + "/blob"), Map.of(), Authenticator.NONE, sink, blob.length, "blob");
      assertArrayEquals(blob, sink.out.toByteArray());
      List<FaultProxy.Request> r = p.requests();
      assertEquals(3, r.size());
      assertFalse(r.get(0).has("Range"));
      assertTrue(r.get(1).headers().stream().anyMatch(h -> h[0].equals("Range") && h[1].equals("bytes=1048576-")));
      assertTrue(r.get(2).headers().stream().anyMatch(h -> h[0].equals("Range") && h[1].equals("bytes=2097152-")));
    }
  }

  @Test
  void aStalledBodyIsCancelledAndResumed() throws IOException {
    try (FaultProxy p = new FaultProxy(files.url())) {
      p.inject(new FaultProxy.Rule("GET", "/blob", 1, new FaultProxy.Stall(1 << 20)));
      long t0 = System.nanoTime();
      MemorySink sink = new MemorySink();
      transport().download(URI.create(p.url() + "/blob"), Map.of(), Authenticator.NONE, sink, blob.length, "blob");
      assertArrayEquals(blob, sink.out.toByteArray());
      long secs = (System.nanoTime() - t0) / 1_000_000_000L;
      assertTrue(secs >= 2 && secs < 10, "stall detected after the 2 s limit, took " + secs + " s");
      assertEquals(2, p.requests().size());
    }
  }

  @Test
  void aServerIgnoringRangeRestartsFromZero() throws IOException {
    MemorySink sink = new MemorySink();
    sink.out.write(blob, 0, 1000);
    transport().download(URI.create(originUrl() + "/no-range"), Map.of(), Authenticator.NONE, sink, blob.length, "b");
    assertArrayEquals(blob, sink.out.toByteArray());
    assertEquals(1, sink.restarts);
  }

  @Test
  void aContentRangeNotStartingAtTheOffsetIsRefused() {
    MemorySink sink = new MemorySink();
    sink.out.write(blob, 0, 1000);
    HttpException e = assertThrows(HttpException.class, () -> transport().download(URI.create(originUrl()
        + "/lying-range"), Map.of(), Authenticator.NONE, sink, blob.length, "b"));
    assertTrue(e.getMessage().contains("Content-Range"), e.getMessage());
    assertEquals(1000, sink.offset(), "nothing was appended");
  }

  @Test
  void offlineRefusesAtConstruction() {
    AssemblerException e = assertThrows(AssemblerException.class,
        () -> new HttpTransport(HttpSettings.defaults().withOffline(true), EventSink.NONE));
    assertTrue(e.getMessage().contains("offline"));
    assertTrue(e.hint().contains("assemble fetch"));
  }

  @Test
  void messagesNeverShowSignedQueries() {
    assertEquals("https://s3.example/x?…", HttpTransport.redact(URI.create("https://s3.example/x?X-Amz-Signature=abc")));
  }

  @Test
  void retryAfterParsing() {
    assertEquals(Duration.ofSeconds(120), HttpTransport.retryAfter("120"));
    assertNull(HttpTransport.retryAfter("soon"));
    assertEquals(Duration.ZERO, HttpTransport.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT"));
  }

  @Test
  void proxiesFromTheEnvironment() {
    EnvironmentProxy p = new EnvironmentProxy(Map.of("HTTPS_PROXY", "http://proxy.site:3128",
        "NO_PROXY", "localhost,.internal,127.0.0.1"));
    assertEquals("proxy.site:3128", p.select(URI.create("https://registry.k8s.io/v2/")).get(0).address().toString()
        .replace("/<unresolved>", ""));
    assertTrue(p.bypass("registry.internal"));
    assertTrue(p.bypass("127.0.0.1"));
    assertEquals(java.net.Proxy.NO_PROXY, p.select(URI.create("http://registry.k8s.io/")).get(0), "no HTTP_PROXY set");
  }
}
