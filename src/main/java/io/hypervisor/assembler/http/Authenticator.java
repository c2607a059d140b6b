package io.hypervisor.assembler.http;

import java.io.IOException;
import java.net.URI;
import java.util.List;

/**
 * Supplies credentials per request URI. The transport asks again for every hop of a redirect, so
 * an implementation that answers per origin never leaks a registry's token to a storage host.
 */
public interface Authenticator {
  /** No credentials anywhere. */
  Authenticator NONE = new Authenticator() {
    @Override
    public String authorization(URI uri) {
      return null;
    }

    @Override
    public boolean unauthorized(URI uri, List<String> challenges, String previous) {
      return false;
    }
  };

  /** The Authorization header value for a request to {@code uri}, or null. */
  String authorization(URI uri) throws IOException;

  /**
   * A request to {@code uri} was answered 401 with these WWW-Authenticate challenges (after
   * sending {@code previous}, or nothing). Returns true when a retry may now succeed.
   */
  boolean unauthorized(URI uri, List<String> challenges, String previous) throws IOException;
}
