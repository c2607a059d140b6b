package io.hypervisor.assembler.oci.registry;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * A username and secret for one registry, or an identity (refresh) token, or a registry token to
 * send as Bearer directly. {@link #toString()} never shows a secret.
 */
public record Credentials(String username, String secret, String identityToken, String registryToken) {
  public static Credentials basic(String user, String password) {
    return new Credentials(user, password, null, null);
  }

  public boolean hasPassword() {
    return username != null && secret != null;
  }

  public String basicHeader() {
    return "Basic " + Base64.getEncoder().encodeToString((username + ":" + secret).getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "Credentials[" + (username == null ? "token" : username) + ", secret redacted]";
  }
}
