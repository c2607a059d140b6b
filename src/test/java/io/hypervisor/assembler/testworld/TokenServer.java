package io.hypervisor.assembler.testworld;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.Signature;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A distribution token server (docker-registry's token auth, spec auth/token.md): GET
 * {@code /token?service=…&scope=…} answers {@code {token, access_token, expires_in, issued_at}}
 * with an RS256 JWT whose header carries the signing certificate in {@code x5c}. Anonymous
 * requests get pull access when {@code anonymousPull}; requests with the right Basic credentials
 * get pull and push; wrong credentials get 401.
 */
public final class TokenServer implements AutoCloseable {
  public static final String SERVICE = "assemble-test-registry";
  public static final String ISSUER = "assemble-test-issuer";
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpServer server;
  private final TestCa ca;
  private final String user;
  private final String password;
  private final boolean anonymousPull;
  private volatile int expiresIn = 300;
  private final AtomicInteger issued = new AtomicInteger();
  private final List<String> scopesAsked = new CopyOnWriteArrayList<>();

  public TokenServer(TestCa ca, String user, String password, boolean anonymousPull) throws IOException {
    this.ca = ca;
    this.user = user;
    this.password = password;
    this.anonymousPull = anonymousPull;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    server.createContext("/token", this::handle);
    server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    server.start();
  }

  public String realm() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
  }

  /** How many tokens were issued (to check that clients cache them). */
  public int issued() {
    return issued.get();
  }

  public List<String> scopesAsked() {
    return List.copyOf(scopesAsked);
  }

  /** Lifetime of tokens issued from now on, in seconds. */
  public void expiresIn(int seconds) {
    expiresIn = seconds;
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      Map<String, List<String>> q = query(ex.getRequestURI().getRawQuery());
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      boolean credentialed = false;
      if (auth != null) {
        String expected = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
            .getBytes(StandardCharsets.UTF_8));
        if (!auth.equals(expected)) {
          byte[] body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}".getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(401, body.length);
          ex.getResponseBody().write(body);
          return;
        }
        credentialed = true;
      }
      List<Map<String, Object>> access = new ArrayList<>();
      for (String scope : q.getOrDefault("scope", List.of())) {
        scopesAsked.add(scope);
        String[] p = scope.split(":");
        if (p.length != 3 || !p[0].equals("repository")) {
          continue;
        }
        List<String> granted = new ArrayList<>();
        for (String action : p[2].split(",")) {
          if (credentialed || (anonymousPull && action.equals("pull"))) {
            granted.add(action);
          }
        }
        access.add(Map.of("type", "repository", "name", p[1], "actions", granted));
      }
      long now = Instant.now().getEpochSecond();
      Map<String, Object> claims = new LinkedHashMap<>();
      claims.put("iss", ISSUER);
      claims.put("sub", credentialed ? user : "");
      claims.put("aud", q.getOrDefault("service", List.of(SERVICE)).get(0));
      claims.put("exp", now + expiresIn);
      claims.put("nbf", now - 10);
      claims.put("iat", now);
      claims.put("jti", UUID.randomUUID().toString());
      claims.put("access", access);
      String token = jwt(claims);
      issued.incrementAndGet();
      byte[] body = JSON.writeValueAsBytes(Map.of("token", token, "access_token", token,
          "expires_in", expiresIn, "issued_at", Instant.ofEpochSecond(now).toString()));
      ex.getResponseHeaders().set("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
    }
  }

  private String jwt(Map<String, Object> claims) throws IOException {
    try {
      Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
      Map<String, Object> header = Map.of("typ", "JWT", "alg", "RS256",
          "x5c", List.of(Base64.getEncoder().encodeToString(ca.tokenCertificate.getEncoded())));
      String signingInput = b64.encodeToString(JSON.writeValueAsBytes(header)) + "."
          + b64.encodeToString(JSON.writeValueAsBytes(claims));
      Signature s = Signature.getInstance("SHA256withRSA");
      s.initSign(ca.tokenKey);
      s.update(signingInput.getBytes(StandardCharsets.US_ASCII));
      return signingInput + "." + b64.encodeToString(s.sign());
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException(e);
    }
  }

  private static Map<String, List<String>> query(String raw) {
    Map<String, List<String>> q = new LinkedHashMap<>();
    if (raw == null) {
      return q;
    }
    for (String kv : raw.split("&")) {
      int eq = kv.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
      q.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
    }
    return q;
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
