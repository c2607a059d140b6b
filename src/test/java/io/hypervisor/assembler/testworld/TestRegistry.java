package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real registry for tests: Debian's docker-registry (CNCF distribution) on a free loopback port,
 * on a copy of the fixture storage that already holds every test-world image under its real
 * repository path (so a mirror mapping registry.k8s.io, quay.io or ghcr.io to it serves them
 * unchanged). Modes combine: authentication (none, htpasswd Basic, token auth with anonymous pull,
 * token auth that needs credentials), TLS with the test CA, blob downloads redirected to a second
 * host (127.0.0.2, like registry.k8s.io's redirects to storage), and a fault-injecting proxy in
 * front. Use as {@code @RegisterExtension static} (started before all tests, stopped after, also
 * when tests fail) or directly with {@link #start()} and try-with-resources.
 */
public final class TestRegistry implements BeforeAllCallback, AfterAllCallback, AutoCloseable {
  /** How clients authenticate. */
  public enum Auth { NONE, BASIC, TOKEN, TOKEN_PRIVATE }

  public static final String USER = "builder";
  public static final String PASSWORD = "s3cret-test-password";

  private final Auth auth;
  private final boolean tls;
  private final boolean redirect;
  private final boolean faults;
  private Path dir;
  private Process process;
  private int port;
  private TokenServer tokenServer;
  private StaticServer redirectTarget;
  private FaultProxy proxy;

  private TestRegistry(Auth auth, boolean tls, boolean redirect, boolean faults) {
    this.auth = auth;
    this.tls = tls;
    this.redirect = redirect;
    this.faults = faults;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Chooses the modes. */
  public static final class Builder {
    private Auth auth = Auth.NONE;
    private boolean tls;
    private boolean redirect;
    private boolean faults;

    public Builder auth(Auth a) {
      auth = a;
      return this;
    }

    public Builder tls() {
      tls = true;
      return this;
    }

    public Builder redirectBlobs() {
      redirect = true;
      return this;
    }

    public Builder faults() {
      faults = true;
      return this;
    }

    public TestRegistry build() {
      if (faults && tls) {
        throw new IllegalArgumentException("the fault proxy speaks plain HTTP; use it without tls");
      }
      return new TestRegistry(auth, tls, redirect, faults);
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  /** Starts everything; on failure stops what was started and says why. */
  public TestRegistry start() {
    try {
      dir = Files.createTempDirectory("test-registry");
      Path storage = dir.resolve("storage");
      copyStorage(Fixtures.part("registry").resolve("storage"), storage);
      StringBuilder cfg = new StringBuilder();
      cfg.append("version: 0.1\nlog: {level: info, accesslog: {disabled: true}}\n");
      cfg.append("storage:\n  filesystem: {rootdirectory: ").append(storage).append("}\n");
      cfg.append("  delete: {enabled: true}\n");
      port = freePort();
      cfg.append("http:\n  addr: 127.0.0.1:").append(port).append("\n  secret: test-registry-secret\n");
      if (tls) {
        TestCa ca = TestCa.get();
        cfg.append("  tls: {certificate: ").append(ca.serverCert).append(", key: ").append(ca.serverKey).append("}\n");
      }
      switch (auth) {
        case BASIC -> {
          Path htpasswd = dir.resolve("htpasswd");
          Files.writeString(htpasswd, Tools.run(List.of("htpasswd", "-Bbn", USER, PASSWORD)).ok().out());
          cfg.append("auth:\n  htpasswd: {realm: assemble-test, path: ").append(htpasswd).append("}\n");
        }
        case TOKEN, TOKEN_PRIVATE -> {
          tokenServer = new TokenServer(TestCa.get(), USER, PASSWORD, auth == Auth.TOKEN);
          cfg.append("auth:\n  token: {realm: \"").append(tokenServer.realm()).append("\", service: ")
              .append(TokenServer.SERVICE).append(", issuer: ").append(TokenServer.ISSUER)
              .append(", rootcertbundle: ").append(TestCa.get().tokenCert).append("}\n");
        }
        case NONE -> { }
      }
      if (redirect) {
        redirectTarget = new StaticServer(storage, "127.0.0.2");
        cfg.append("middleware:\n  storage:\n    - name: redirect\n      options: {baseurl: \"")
            .append(redirectTarget.url()).append("\"}\n");
      }
      Path config = dir.resolve("config.yml");
      Files.writeString(config, cfg.toString());
      process = new ProcessBuilder("docker-registry", "serve", config.toString())
          .redirectErrorStream(true).redirectOutput(dir.resolve("registry.log").toFile()).start();
      awaitUp();
      if (faults) {
        proxy = new FaultProxy(directUrl());
      }
      return this;
    } catch (IOException | RuntimeException e) {
      String log = "";
      try {
        log = dir == null ? "" : Files.readString(dir.resolve("registry.log"));
      } catch (IOException ignored) {
        // no log yet
      }
      close();
      throw new IllegalStateException("cannot start the test registry: " + e + "\n" + log, e);
    }
  }

  /**
   * Copies the fixture storage: blob data are hard-linked (distribution never rewrites a blob in
   * place), the small repositories tree (tag links) is copied so tests may push and re-tag.
   */
  private static void copyStorage(Path from, Path to) throws IOException {
    Files.walkFileTree(from, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) throws IOException {
        Files.createDirectories(to.resolve(from.relativize(d).toString()));
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
        Path target = to.resolve(from.relativize(f).toString());
        if (f.toString().contains("/blobs/")) {
          Files.createLink(target, f);
        } else {
          Files.copy(f, target);
        }
        return FileVisitResult.CONTINUE;
      }
    });
  }

  private void awaitUp() throws IOException {
    HttpClient c = client();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("docker-registry exited with " + process.exitValue());
      }
      try {
        int s = c.send(HttpRequest.newBuilder(URI.create(directUrl() + "/v2/")).timeout(Duration.ofSeconds(2)).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode();
        if (s == 200 || s == 401) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted");
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted");
      }
    }
    throw new IOException("docker-registry did not answer /v2/ within 30 s");
  }

  private HttpClient client() {
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2));
    if (tls) {
      b.sslContext(sslContext());
    }
    return b.build();
  }

  /** An SSL context trusting the test CA (for Java clients in tests). */
  public static SSLContext sslContext() {
    try (var in = Files.newInputStream(TestCa.get().caCert)) {
      var cert = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
      var ks = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
      ks.load(null, null);
      ks.setCertificateEntry("test-ca", cert);
      var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException | java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static int freePort() throws IOException {
    try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  /** The registry itself, bypassing the fault proxy. */
  public String directUrl() {
    return (tls ? "https" : "http") + "://127.0.0.1:" + port;
  }

  /** What clients should use: the fault proxy when there is one, else the registry. */
  public String url() {
    return proxy != null ? proxy.url() : directUrl();
  }

  /** host:port of {@link #url()}, as it appears in image references. */
  public String host() {
    return URI.create(url()).getAuthority();
  }

  public boolean tls() {
    return tls;
  }

  public Auth auth() {
    return auth;
  }

  public Path caFile() {
    return TestCa.get().caCert;
  }

  public TokenServer tokenServer() {
    return tokenServer;
  }

  public StaticServer redirectTarget() {
    return redirectTarget;
  }

  public FaultProxy faults() {
    return proxy;
  }

  /** skopeo flags for this registry (TLS trust or plain HTTP, credentials when needed). */
  public List<String> skopeoFlags(String prefix) {
    List<String> f = new ArrayList<>();
    if (tls) {
      Path certDir = dir.resolve("skopeo-certs");
      try {
        Files.createDirectories(certDir);
        Files.copy(caFile(), certDir.resolve("ca.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      f.add("--" + prefix + "cert-dir=" + certDir);
    } else {
      f.add("--" + prefix + "tls-verify=false");
    }
    if (auth == Auth.BASIC || auth == Auth.TOKEN_PRIVATE) {
      f.add("--" + prefix + "creds=" + USER + ":" + PASSWORD);
    }
    return f;
  }

  /** The registries whose images the test world publishes. */
  public static final List<String> REGISTRIES = List.of("registry.k8s.io", "quay.io", "ghcr.io", "docker.io");

  /**
   * A containerd certs.d directory under {@code parent} where each test-world registry's server is
   * this registry (so nothing ever goes to the internet), with the test CA in TLS mode.
   */
  public Path hostsDir(Path parent) throws IOException {
    Path d = Files.createDirectories(parent.resolve("certs.d-" + System.nanoTime()));
    for (String reg : REGISTRIES) {
      Path dir = Files.createDirectories(d.resolve(reg));
      String toml = "server = \"" + url() + "\"\n";
      if (tls) {
        Files.copy(caFile(), dir.resolve("ca.crt"));
        toml += "ca = \"ca.crt\"\n";
      }
      Files.writeString(dir.resolve("hosts.toml"), toml);
    }
    return d;
  }

  public String log() {
    try {
      return Files.readString(dir.resolve("registry.log"));
    } catch (IOException e) {
      return "";
    }
  }

  @Override
  public void close() {
    if (proxy != null) {
      try {
        proxy.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    if (process != null) {
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    if (tokenServer != null) {
      tokenServer.close();
    }
    if (redirectTarget != null) {
      redirectTarget.close();
    }
    if (dir != null) {
      try (Stream<Path> s = Files.walk(dir)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException ignored) {
        // temporary directory; best effort
      }
    }
  }
}
