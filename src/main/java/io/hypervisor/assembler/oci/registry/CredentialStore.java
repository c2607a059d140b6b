package io.hypervisor.assembler.oci.registry;

import io.hypervisor.assembler.model.SmallFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Registry credentials from docker's {@code config.json} ($DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json): {@code credHelpers[host]}, then {@code credsStore}, then
 * {@code auths[host]} (auth, username/password, identitytoken, registrytoken). Helpers are run
 * with the docker-credential protocol ({@code docker-credential-<name> get}, server on stdin,
 * JSON answer); "not found" means no credentials. Docker Hub's aliases are one registry.
 */
public final class CredentialStore {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final JsonNode config;
  private final Path helperDir;
  private final Map<String, Optional<Credentials>> cache = new ConcurrentHashMap<>();

  private CredentialStore(JsonNode config, Path helperDir) {
    this.config = config;
    this.helperDir = helperDir;
  }

  /** No credentials at all. */
  public static CredentialStore none() {
    return new CredentialStore(JSON.createObjectNode(), null);
  }

  /** Reads docker's config as the docker CLI finds it. */
  public static CredentialStore fromEnvironment(Map<String, String> env) throws IOException {
    String dir = env.get("DOCKER_CONFIG");
    Path p = dir != null && !dir.isBlank() ? Path.of(dir, "config.json")
        : Path.of(System.getProperty("user.home"), ".docker", "config.json");
    return load(p, null);
  }

  /** Reads a config file; helpers are looked up on PATH, or in {@code helperDir} when given. */
  public static CredentialStore load(Path configJson, Path helperDir) throws IOException {
    if (!Files.exists(configJson)) {
      return new CredentialStore(JSON.createObjectNode(), helperDir);
    }
    try {
      JsonNode config = JSON.readTree(SmallFiles.readString(configJson, SmallFiles.CONFIG, "docker config"));
      if (config == null || !config.isObject()) {
        throw new IOException("not a JSON object");
      }
      return new CredentialStore(config, helperDir);
    } catch (IOException e) {
      throw new IOException("reading registry credentials from " + configJson + ": " + e.getMessage(), e);
    }
  }

  /** Credentials for a registry host (e.g. registry.k8s.io, 127.0.0.1:5000), if configured. */
  public Optional<Credentials> get(String host) throws IOException {
    Optional<Credentials> c = cache.get(host);
    if (c == null) {
      c = lookup(host);
      cache.put(host, c);
    }
    return c;
  }

  private Optional<Credentials> lookup(String host) throws IOException {
    String helper = config.path("credHelpers").path(host).asText(null);
    if (helper == null && isHub(host)) {
      helper = findKey(config.path("credHelpers"), host);
    }
    if (helper == null) {
      helper = config.path("credsStore").asText(null);
    }
    if (helper != null && !helper.isBlank()) {
      Optional<Credentials> fromHelper = helper(helper, isHub(host) ? "https://index.docker.io/v1/" : host);
      if (fromHelper.isPresent()) {
        return fromHelper;
      }
    }
    JsonNode auths = config.path("auths");
    String key = findKey(auths, host);
    if (key == null) {
      return Optional.empty();
    }
    JsonNode a = auths.get(key);
    String user = a.path("username").asText(null);
    String pass = a.path("password").asText(null);
    if (a.hasNonNull("auth") && !a.get("auth").asText().isEmpty()) {
      String decoded = new String(Base64.getDecoder().decode(a.get("auth").asText()), StandardCharsets.UTF_8);
      int colon = decoded.indexOf(':');
      if (colon < 0) {
        throw new IOException("docker config: auths[" + key + "].auth is not base64 of user:password");
      }
      user = decoded.substring(0, colon);
      pass = decoded.substring(colon + 1);
    }
    String identity = a.path("identitytoken").asText(null);
    String registry = a.path("registrytoken").asText(null);
    if (user == null && identity == null && registry == null) {
      return Optional.empty();
    }
    return Optional.of(new Credentials(user, pass, identity, registry));
  }

  /** A key of {@code auths}/{@code credHelpers} naming this host (scheme and path ignored). */
  private static String findKey(JsonNode map, String host) {
    for (Iterator<String> it = map.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      String h = k.replaceFirst("^[a-z]+://", "").replaceFirst("/.*$", "");
      if (h.equals(host) || (isHub(host) && isHub(h))) {
        return k;
      }
    }
    return null;
  }

  static boolean isHub(String host) {
    return host.equals("docker.io") || host.equals("index.docker.io") || host.equals("registry-1.docker.io")
        || host.equals("registry.hub.docker.com");
  }

  private Optional<Credentials> helper(String name, String server) throws IOException {
    String program = "docker-credential-" + name;
    Path exe = helperDir != null ? helperDir.resolve(program) : null;
    ProcessBuilder pb = new ProcessBuilder(exe != null ? exe.toString() : program, "get");
    pb.redirectErrorStream(false);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new IOException("credential helper " + program + " for " + server + " cannot run: " + e.getMessage());
    }
    try {
      p.getOutputStream().write(server.getBytes(StandardCharsets.UTF_8));
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("credential helper " + program + " did not answer within 30 s");
      }
      String text = new String(out, StandardCharsets.UTF_8).trim();
      if (p.exitValue() != 0) {
        if (text.toLowerCase(java.util.Locale.ROOT).contains("credentials not found")) {
          return Optional.empty();
        }
        // Helper output may contain secrets: report only the exit code.
        throw new IOException("credential helper " + program + " failed for " + server + " (exit " + p.exitValue() + ")");
      }
      JsonNode j = JSON.readTree(text);
      String user = j.path("Username").asText(null);
      String secret = j.path("Secret").asText(null);
      if ("<token>".equals(user)) {
        return Optional.of(new Credentials(null, null, secret, null));
      }
      return Optional.of(new Credentials(user, secret, null, null));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted waiting for " + program);
    }
  }
}
