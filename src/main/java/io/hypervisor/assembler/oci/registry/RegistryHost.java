package io.hypervisor.assembler.oci.registry;

import io.hypervisor.assembler.http.Tls;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One place a registry's content can be fetched from: the upstream server or a mirror, with what
 * it may be asked (pull = by digest, resolve = tag to digest, push), its TLS settings, extra
 * headers, and whether its URL already contains the API path ({@code override_path}).
 */
public record RegistryHost(URI url, Set<String> capabilities, Tls tls, Map<String, List<String>> headers,
    boolean overridePath, boolean upstream) {
  public RegistryHost {
    capabilities = Set.copyOf(capabilities);
    headers = Map.copyOf(headers);
    if (!"https".equals(url.getScheme()) && !"http".equals(url.getScheme())) {
      throw new IllegalArgumentException("registry host " + url + " is not an http(s) URL");
    }
  }

  /** The API base: {@code <url>/v2}, or the URL itself with override_path. */
  public String apiBase() {
    String u = url.toString().replaceAll("/+$", "");
    return overridePath ? u : u + "/v2";
  }

  public boolean can(String capability) {
    return capabilities.contains(capability);
  }
}
