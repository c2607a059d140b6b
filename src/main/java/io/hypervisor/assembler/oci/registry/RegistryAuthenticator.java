package io.hypervisor.assembler.oci.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.http.Authenticator;
import io.hypervisor.assembler.http.HttpTransport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Authentication per origin (scheme, host, port). What an origin wants is learnt from its 401
 * challenge; afterwards every request to it carries Basic credentials or a bearer token for the
 * repository in the request path. Tokens are cached per (realm, service, scope) until shortly
 * before they expire, and fetched once however many layers ask at the same time. Credentials
 * are only ever sent to the host they are configured for (a redirect target that challenges gets
 * an anonymous token exchange with its own realm), and a token realm must be https unless the
 * registry itself was configured as plain http, and may not be a private address of another host.
 */
public final class RegistryAuthenticator implements Authenticator {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern REPO = Pattern.compile("/v2/(.+?)/(manifests|blobs|tags|referrers)/");
  private static final Pattern MOUNT_FROM = Pattern.compile("(?:^|&)from=([^&]+)");
  private final CredentialStore credentials;
  /** The actions tokens are asked for: "pull", or "pull,push" when publishing. */
  private final String actions;
  private final Map<String, Origin> origins = new ConcurrentHashMap<>();
  private final Map<TokenKey, CompletableFuture<Token>> tokens = new ConcurrentHashMap<>();
  private volatile HttpTransport transport;

  /** What one origin asked for. */
  private record Origin(String scheme, String realm, String service) {}

  private record TokenKey(String realm, String service, String scope, String origin) {}

  private record Token(String value, Instant expires) {
    boolean fresh() {
      return Instant.now().isBefore(expires);
    }
  }

  public RegistryAuthenticator(CredentialStore credentials) {
    this(credentials, false);
  }

  /** With {@code push}, tokens are asked for "pull,push" on the repository (a publisher's authenticator). */
  public RegistryAuthenticator(CredentialStore credentials, boolean push) {
    this.credentials = credentials;
    this.actions = push ? "pull,push" : "pull";
  }

  /** The transport token requests go through (set once by the registry source). */
  void transport(HttpTransport t) {
    transport = t;
  }

  static String origin(URI u) {
    return u.getScheme() + "://" + u.getAuthority();
  }

  /** The repository a registry API path is about, as a pull scope; null for /v2/ itself. */
  static String scope(URI u) {
    return scope(u, "pull");
  }

  static String scope(URI u, String actions) {
    Matcher m = REPO.matcher(u.getRawPath() == null ? "" : u.getRawPath());
    if (!m.find()) {
      return null;
    }
    String scope = "repository:" + m.group(1) + ":" + actions;
    // A cross-repository mount (POST …/blobs/uploads/?mount=D&from=R) also reads R.
    Matcher from = MOUNT_FROM.matcher(u.getRawQuery() == null ? "" : u.getRawQuery());
    if (from.find()) {
      scope += " repository:" + java.net.URLDecoder.decode(from.group(1), java.nio.charset.StandardCharsets.UTF_8)
          + ":pull";
    }
    return scope;
  }

  @Override
  public String authorization(URI uri) throws IOException {
    Origin o = origins.get(origin(uri));
    if (o == null) {
      return null;
    }
    Optional<Credentials> creds = credentials.get(uri.getAuthority());
    if (o.scheme().equals("basic")) {
      return creds.filter(Credentials::hasPassword).map(Credentials::basicHeader).orElse(null);
    }
    if (creds.isPresent() && creds.get().registryToken() != null) {
      return "Bearer " + creds.get().registryToken();
    }
    String scope = scope(uri, actions);
    return scope == null ? null : "Bearer " + token(new TokenKey(o.realm(), o.service(), scope, origin(uri)), creds);
  }

  @Override
  public boolean unauthorized(URI uri, List<String> headers, String previous) throws IOException {
    List<Challenge> challenges = Challenge.parse(headers);
    Optional<Credentials> creds = credentials.get(uri.getAuthority());
    for (Challenge c : challenges) {
      if (c.scheme().equals("bearer") && c.param("realm") != null) {
        URI realm = validRealm(uri, c.param("realm"));
        String service = c.param("service");
        origins.put(origin(uri), new Origin("bearer", realm.toString(), service));
        String scope = c.param("scope") != null ? c.param("scope") : scope(uri, actions);
        if (scope == null) {
          return true;
        }
        TokenKey key = new TokenKey(realm.toString(), service, scope, origin(uri));
        // The token we sent was refused (expired, or insufficient_scope): fetch a new one.
        tokens.remove(key);
        token(key, creds);
        return true;
      }
    }
    for (Challenge c : challenges) {
      if (c.scheme().equals("basic")) {
        boolean had = origins.containsKey(origin(uri)) && "basic".equals(origins.get(origin(uri)).scheme());
        origins.put(origin(uri), new Origin("basic", null, null));
        return !had && creds.filter(Credentials::hasPassword).isPresent();
      }
    }
    return false;
  }

  private URI validRealm(URI registry, String realm) throws IOException {
    URI r;
    try {
      r = URI.create(realm);
    } catch (IllegalArgumentException e) {
      throw new IOException("registry " + origin(registry) + " named a malformed token realm");
    }
    boolean sameHost = r.getHost() != null && r.getHost().equals(registry.getHost());
    if (!"https".equals(r.getScheme()) && !("http".equals(r.getScheme()) && "http".equals(registry.getScheme()))) {
      throw new IOException("registry " + origin(registry) + " sends clients to a token realm over "
          + r.getScheme() + " (" + HttpTransport.redact(r) + "); refusing");
    }
    if (!sameHost && r.getHost() != null && r.getHost().matches("[0-9.]+|\\[[0-9a-fA-F:]+\\]")) {
      InetAddress a = InetAddress.getByName(r.getHost());
      InetAddress reg = registry.getHost() == null ? null : tryResolve(registry.getHost());
      boolean registryLocal = reg != null && (reg.isLoopbackAddress() || reg.isSiteLocalAddress());
      if ((a.isLoopbackAddress() || a.isSiteLocalAddress() || a.isLinkLocalAddress()) && !registryLocal) {
        throw new IOException("registry " + origin(registry) + " names a private-address token realm "
            + HttpTransport.redact(r) + "; refusing (possible credential harvesting)");
      }
    }
    return r;
  }

  private static InetAddress tryResolve(String host) {
    try {
      return InetAddress.getByName(host);
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * A token for the key: the cached one while it is fresh, else one fetch shared by every caller
   * waiting for it. A token fetched for this call is used even if it is already stale (a slow
   * token endpoint, a short lifetime): the registry then says 401 and the caller's retry budget
   * decides, so a token endpoint can never make this loop.
   */
  private String token(TokenKey key, Optional<Credentials> creds) throws IOException {
    for (int attempt = 0; ; attempt++) {
      CompletableFuture<Token> mine = new CompletableFuture<>();
      CompletableFuture<Token> f = tokens.putIfAbsent(key, mine);
      if (f == null) {
        try {
          Token t = fetchToken(key, creds);
          mine.complete(t);
          return t.value();
        } catch (IOException | RuntimeException e) {
          tokens.remove(key, mine);
          mine.completeExceptionally(e);
          throw e;
        }
      }
      try {
        Token t = f.get();
        if (t.fresh() || attempt > 0) {
          return t.value(); // another caller's fetch, just made for us too
        }
        tokens.remove(key, f);
      } catch (ExecutionException e) {
        tokens.remove(key, f);
        throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted waiting for a registry token");
      }
    }
  }

  private Token fetchToken(TokenKey key, Optional<Credentials> creds) throws IOException {
    HttpTransport t = transport;
    // Several scopes (a cross-repository mount needs two) are several scope parameters (the token spec).
    String scopes = String.join("&", java.util.Arrays.stream(key.scope().trim().split("\\s+"))
        .map(sc -> "scope=" + enc(sc)).toList());
    String q = (key.service() == null ? "" : "service=" + enc(key.service()) + "&") + scopes;
    URI uri = URI.create(key.realm() + (key.realm().contains("?") ? "&" : "?") + q);
    String header = creds.filter(Credentials::hasPassword).map(Credentials::basicHeader).orElse(null);
    HttpTransport.Response r;
    if (creds.isPresent() && creds.get().identityToken() != null) {
      String form = "grant_type=refresh_token&client_id=assemble&refresh_token=" + enc(creds.get().identityToken())
          + (key.service() == null ? "" : "&service=" + enc(key.service())) + "&" + scopes;
      r = t.send("POST", URI.create(key.realm()), Map.of("Content-Type",
          List.of("application/x-www-form-urlencoded")), form.getBytes(StandardCharsets.UTF_8), Authenticator.NONE,
          1 << 20);
      // Identity tokens need the OAuth2 form post; not every registry has it (containerd falls
      // back to GET on 404/405/400/401), and the GET then goes without a secret.
      if (!r.ok()) {
        r = t.get(uri, Map.of(), Authenticator.NONE, 1 << 20);
      }
    } else {
      Authenticator basic = header == null ? Authenticator.NONE : new Authenticator() {
        @Override
        public String authorization(URI u) {
          return origin(u).equals(origin(uri)) ? header : null;
        }

        @Override
        public boolean unauthorized(URI u, List<String> c, String p) {
          return false;
        }
      };
      r = t.get(uri, Map.of(), basic, 1 << 20);
    }
    if (!r.ok()) {
      throw new IOException("getting a registry token for " + key.scope() + " from " + HttpTransport.redact(uri)
          + ": " + r.status() + (header == null ? " (anonymous)" : " (credentials for " + key.origin() + " refused)"));
    }
    JsonNode j = JSON.readTree(r.body());
    String value = j.hasNonNull("token") ? j.get("token").asText() : j.path("access_token").asText(null);
    if (value == null || value.isEmpty()) {
      throw new IOException("token response from " + HttpTransport.redact(uri) + " has no token");
    }
    // The lifetime counts from receipt, not from issued_at: the registry's clock is not ours (a
    // skewed issued_at made every token look expired). Renew a little early, so a token never
    // expires between check and use. (distribution's token spec: expires_in defaults to 60 s.)
    long lifetime = Math.max(0, Math.min(j.path("expires_in").asLong(60), 24 * 3600));
    Instant expires = Instant.now().plusSeconds(Math.max(1, lifetime - Math.min(10, lifetime / 5)));
    return new Token(value, expires);
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
