package io.hypervisor.assembler.http;

import java.time.Duration;

/**
 * Behaviour of the transport: timeouts, the retry budget and backoff, the stall limit for bodies,
 * and whether the network may be used at all.
 */
public record HttpSettings(Duration connectTimeout, Duration headersTimeout, Duration stallTimeout,
    int maxAttempts, Duration initialBackoff, Duration maxBackoff, Duration maxRetryAfter,
    int maxRedirects, boolean offline) {

  public HttpSettings {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1");
    }
  }

  /** Defaults for real networks. */
  public static HttpSettings defaults() {
    return new HttpSettings(Duration.ofSeconds(15), Duration.ofSeconds(60), Duration.ofSeconds(60), 5,
        Duration.ofMillis(500), Duration.ofSeconds(30), Duration.ofMinutes(2), 10, false);
  }

  public HttpSettings withStallTimeout(Duration d) {
    return new HttpSettings(connectTimeout, headersTimeout, d, maxAttempts, initialBackoff, maxBackoff,
        maxRetryAfter, maxRedirects, offline);
  }

  public HttpSettings withBackoff(Duration initial, Duration max) {
    return new HttpSettings(connectTimeout, headersTimeout, stallTimeout, maxAttempts, initial, max,
        maxRetryAfter, maxRedirects, offline);
  }

  public HttpSettings withMaxAttempts(int n) {
    return new HttpSettings(connectTimeout, headersTimeout, stallTimeout, n, initialBackoff, maxBackoff,
        maxRetryAfter, maxRedirects, offline);
  }

  public HttpSettings withOffline(boolean off) {
    return new HttpSettings(connectTimeout, headersTimeout, stallTimeout, maxAttempts, initialBackoff,
        maxBackoff, maxRetryAfter, maxRedirects, off);
  }
}
