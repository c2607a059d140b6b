package io.hypervisor.assembler.http;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Proxies as curl and Go read them: HTTPS_PROXY/https_proxy for https, HTTP_PROXY/http_proxy for
 * http, NO_PROXY/no_proxy as host suffixes (or *). The JDK's default selector reads only the
 * http(s).proxyHost properties, hence this class.
 */
public final class EnvironmentProxy extends ProxySelector {
  private final URI https;
  private final URI http;
  private final List<String> noProxy;

  public EnvironmentProxy(Map<String, String> env) {
    https = uri(first(env, "HTTPS_PROXY", "https_proxy"));
    http = uri(first(env, "HTTP_PROXY", "http_proxy"));
    List<String> np = new ArrayList<>();
    String s = first(env, "NO_PROXY", "no_proxy");
    if (s != null) {
      for (String part : s.split(",")) {
        String p = part.trim().toLowerCase(Locale.ROOT);
        if (!p.isEmpty()) {
          np.add(p.startsWith(".") ? p.substring(1) : p);
        }
      }
    }
    noProxy = List.copyOf(np);
  }

  /** Whether any proxy is configured at all. */
  public boolean configured() {
    return https != null || http != null;
  }

  @Override
  public List<Proxy> select(URI uri) {
    URI p = "https".equalsIgnoreCase(uri.getScheme()) ? https : http;
    if (p == null || bypass(uri.getHost())) {
      return List.of(Proxy.NO_PROXY);
    }
    int port = p.getPort() > 0 ? p.getPort() : "https".equals(p.getScheme()) ? 443 : 80;
    return List.of(new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(p.getHost(), port)));
  }

  boolean bypass(String host) {
    String h = host == null ? "" : host.toLowerCase(Locale.ROOT).replaceAll("^\\[|\\]$", "");
    for (String n : noProxy) {
      if (n.equals("*") || h.equals(n) || h.endsWith("." + n)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {
    // Nothing to fall back to: the request fails and the retry policy decides.
  }

  private static String first(Map<String, String> env, String a, String b) {
    String v = env.get(a);
    return v != null && !v.isBlank() ? v : env.get(b);
  }

  private static URI uri(String s) {
    if (s == null || s.isBlank()) {
      return null;
    }
    return URI.create(s.contains("://") ? s : "http://" + s);
  }
}
