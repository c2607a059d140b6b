package io.hypervisor.assembler.oci.registry;

import io.hypervisor.assembler.model.SmallFiles;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.hypervisor.assembler.http.Tls;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Where each registry's content is fetched from, in containerd's hosts.toml model (docs/hosts.md):
 * per registry, the mirrors in file order, then the server (the registry itself unless
 * {@code server} says otherwise). Read from a certs.d directory ({@code <host>_<port>_},
 * {@code <host>:<port>}, {@code <host>}, then {@code _default}; docker-style {@code *.crt} /
 * {@code *.cert}+{@code *.key} when a directory has no hosts.toml), or built from a plan's
 * mirrors. The same files go into the node image, so the builder and the node agree.
 */
public final class HostsConfig {
  static final Set<String> ALL = Set.of("pull", "resolve", "push");
  private final Map<String, List<RegistryHost>> configured;

  private HostsConfig(Map<String, List<RegistryHost>> configured) {
    this.configured = Map.copyOf(configured);
  }

  public static HostsConfig empty() {
    return new HostsConfig(Map.of());
  }

  /** A mirror as a recipe names it. */
  public record MirrorSpec(String url, List<String> capabilities, Path ca, boolean skipVerify) {}

  /** Mirrors per registry (or {@code _default}); the upstream server stays last. */
  public static HostsConfig of(Map<String, List<MirrorSpec>> mirrors) {
    Map<String, List<RegistryHost>> m = new LinkedHashMap<>();
    mirrors.forEach((registry, list) -> {
      List<RegistryHost> hosts = new ArrayList<>();
      for (MirrorSpec s : list) {
        hosts.add(new RegistryHost(URI.create(s.url()), Set.copyOf(s.capabilities()),
            new Tls(s.ca() == null ? List.of() : List.of(s.ca()), null, null, s.skipVerify()), Map.of(), false, false));
      }
      if (!registry.equals("_default")) {
        hosts.add(server(registry));
      }
      m.put(registry, hosts);
    });
    return new HostsConfig(m);
  }

  /**
   * Reads a certs.d directory (e.g. /etc/containerd/certs.d); missing directory = no settings. A
   * hosts.toml or certificate that cannot be used is an input error naming the file.
   */
  public static HostsConfig load(Path certsD) throws IOException {
    try {
      return loadDirectory(certsD);
    } catch (IOException | RuntimeException e) {
      if (e instanceof io.hypervisor.assembler.model.AssemblerException a) {
        throw a;
      }
      throw io.hypervisor.assembler.model.AssemblerException.input("reading the registry hosts configuration in "
          + certsD + ": " + io.hypervisor.assembler.model.AssemblerException.describe(e),
          "fix or remove the file (containerd's hosts.toml format), or give --mirror REGISTRY=URL instead");
    }
  }

  private static HostsConfig loadDirectory(Path certsD) throws IOException {
    Map<String, List<RegistryHost>> m = new LinkedHashMap<>();
    if (!Files.isDirectory(certsD)) {
      return new HostsConfig(m);
    }
    try (Stream<Path> dirs = Files.list(certsD)) {
      for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
        String name = dir.getFileName().toString();
        String registry = name.equals("_default") ? name : name.replaceFirst("^(.*)_(\\d+)_$", "$1:$2");
        Path toml = dir.resolve("hosts.toml");
        m.put(registry, Files.exists(toml) ? parse(toml, registry) : dockerCerts(dir, registry));
      }
    }
    return new HostsConfig(m);
  }

  static List<RegistryHost> parse(Path toml, String registry) throws IOException {
    JsonNode root;
    try {
      root = new TomlMapper().readTree(SmallFiles.readString(toml, SmallFiles.CONFIG, "hosts.toml"));
    } catch (IOException e) {
      throw new IOException("reading " + toml + ": " + e.getMessage(), e);
    }
    Path dir = toml.getParent();
    List<RegistryHost> hosts = new ArrayList<>();
    JsonNode hostTable = root.path("host");
    for (Iterator<Map.Entry<String, JsonNode>> it = hostTable.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      hosts.add(host(e.getKey(), e.getValue(), dir, false, toml));
    }
    if (root.hasNonNull("server")) {
      hosts.add(host(root.get("server").asText(), root, dir, true, toml));
    } else if (!registry.equals("_default")) {
      hosts.add(server(registry));
    }
    return hosts;
  }

  private static RegistryHost host(String url, JsonNode t, Path dir, boolean upstream, Path file) throws IOException {
    Set<String> caps = ALL;
    if (t.has("capabilities")) {
      caps = new java.util.HashSet<>();
      for (JsonNode c : t.get("capabilities")) {
        caps.add(c.asText());
      }
    }
    List<Path> ca = new ArrayList<>();
    JsonNode caNode = t.path("ca");
    if (caNode.isTextual()) {
      ca.add(dir.resolve(caNode.asText()));
    } else if (caNode.isArray()) {
      caNode.forEach(c -> ca.add(dir.resolve(c.asText())));
    }
    Path cert = null;
    Path key = null;
    JsonNode client = t.path("client");
    if (client.isTextual()) {
      cert = dir.resolve(client.asText());
      key = cert;
    } else if (client.isArray() && client.size() > 0) {
      JsonNode first = client.get(0);
      if (first.isArray()) {
        cert = dir.resolve(first.get(0).asText());
        key = first.size() > 1 ? dir.resolve(first.get(1).asText()) : cert;
      } else {
        cert = dir.resolve(first.asText());
        key = client.size() > 1 ? dir.resolve(client.get(1).asText()) : cert;
      }
    }
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> h = t.path("header").fields(); h.hasNext(); ) {
      Map.Entry<String, JsonNode> e = h.next();
      List<String> vs = new ArrayList<>();
      if (e.getValue().isArray()) {
        e.getValue().forEach(v -> vs.add(v.asText()));
      } else {
        vs.add(e.getValue().asText());
      }
      headers.put(e.getKey(), vs);
    }
    URI uri;
    try {
      uri = URI.create(url.contains("://") ? url : "https://" + url);
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": \"" + url + "\" is not a URL");
    }
    return new RegistryHost(uri, caps, new Tls(ca, cert, key, t.path("skip_verify").asBoolean(false)),
        headers, t.path("override_path").asBoolean(false), upstream);
  }

  /** Docker's certs.d convention: *.crt are CAs, a *.cert with its *.key is the client pair. */
  private static List<RegistryHost> dockerCerts(Path dir, String registry) throws IOException {
    List<Path> ca = new ArrayList<>();
    Path cert = null;
    Path key = null;
    try (Stream<Path> s = Files.list(dir)) {
      for (Path f : s.sorted().toList()) {
        String n = f.getFileName().toString();
        if (n.endsWith(".crt")) {
          ca.add(f);
        } else if (n.endsWith(".cert")) {
          cert = f;
          key = f.resolveSibling(n.substring(0, n.length() - 5) + ".key");
        }
      }
    }
    RegistryHost s = server(registry);
    return List.of(new RegistryHost(s.url(), ALL, new Tls(ca, cert, key, false), Map.of(), false, true));
  }

  /** The registry itself as the upstream server (Docker Hub's API lives elsewhere). */
  static RegistryHost server(String registry) {
    String host = registry.equals("docker.io") ? "registry-1.docker.io" : registry;
    return new RegistryHost(URI.create("https://" + host), ALL, Tls.DEFAULT, Map.of(), false, true);
  }

  /** The hosts to try for a registry, mirrors first. */
  public List<RegistryHost> hosts(String registry) {
    List<RegistryHost> h = configured.get(registry);
    if (h != null) {
      return h;
    }
    List<RegistryHost> defaults = configured.get("_default");
    if (defaults != null) {
      List<RegistryHost> out = new ArrayList<>(defaults);
      out.add(server(registry));
      return out;
    }
    return List.of(server(registry));
  }

  /** TLS settings for a host:port (the first configured host with that authority). */
  public Tls tls(String authority) {
    for (List<RegistryHost> hosts : configured.values()) {
      for (RegistryHost h : hosts) {
        if (authority.equals(h.url().getAuthority())) {
          return h.tls();
        }
      }
    }
    return Tls.DEFAULT;
  }
}
