package io.hypervisor.assembler.http;

import java.time.Duration;

/**
 * Behaviour of the transport: timeouts, the retry budget and backoff, the limits a body must
 * keep (no byte for the stall timeout; less than the minimum rate over a window; longer than the
 * deadline its size allows; more than so many resumes), and whether the network may be used.
 */
public record HttpSettings(Duration connectTimeout, Duration headersTimeout, Duration stallTimeout,
    int maxAttempts, Duration initialBackoff, Duration maxBackoff, Duration maxRetryAfter,
    int maxRedirects, boolean offline, long minBytesPerSecond, Duration rateWindow, int maxResumes,
    Duration deadlineBase) {

  public HttpSettings {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1");
    }
  }

  /**
   * Defaults for real networks. A body must bring 4 KiB/s averaged over a minute (a registry
   * trickling bytes to keep the connection alive is as bad as a stalled one), finish within 10
   * minutes plus its size at 64 KiB/s, and be resumed at most 10 times.
   */
  public static HttpSettings defaults() {
    return new HttpSettings(Duration.ofSeconds(15), Duration.ofSeconds(60), Duration.ofSeconds(60), 5,
        Duration.ofMillis(500), Duration.ofSeconds(30), Duration.ofMinutes(2), 10, false, 4096,
        Duration.ofSeconds(60), 10, Duration.ofMinutes(10));
  }

  /** The longest a download of {@code size} bytes (-1: unknown) may take, resumes included. */
  public Duration deadline(long size) {
    long slowest = 64 << 10;
    return deadlineBase.plusSeconds(size < 0 ? 3600 : size / slowest);
  }

  public HttpSettings withStallTimeout(Duration d) {
    return new HttpSettings(connectTimeout, headersTimeout, d, maxAttempts, initialBackoff, maxBackoff,
        maxRetryAfter, maxRedirects, offline, minBytesPerSecond, rateWindow, maxResumes, deadlineBase);
  }

  public HttpSettings withBackoff(Duration initial, Duration max) {
    return new HttpSettings(connectTimeout, headersTimeout, stallTimeout, maxAttempts, initial, max,
        maxRetryAfter, maxRedirects, offline, minBytesPerSecond, rateWindow, maxResumes, deadlineBase);
  }

  public HttpSettings withMaxAttempts(int n) {
    return new HttpSettings(connectTimeout, headersTimeout, stallTimeout, n, initialBackoff, maxBackoff,
        maxRetryAfter, maxRedirects, offline, minBytesPerSecond, rateWindow, maxResumes, deadlineBase);
  }

  /** The minimum average rate over a window, the resume budget and the deadline's fixed part. */
  public HttpSettings withTransferLimits(long bytesPerSecond, Duration window, int resumes, Duration base) {
    return new HttpSettings(connectTimeout, headersTimeout, stallTimeout, maxAttempts, initialBackoff, maxBackoff,
        maxRetryAfter, maxRedirects, offline, bytesPerSecond, window, resumes, base);
  }

  public HttpSettings withOffline(boolean off) {
    return new HttpSettings(connectTimeout, headersTimeout, stallTimeout, maxAttempts, initialBackoff,
        maxBackoff, maxRetryAfter, maxRedirects, off, minBytesPerSecond, rateWindow, maxResumes, deadlineBase);
  }
}
