package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.model.Accelerator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Where the assembler keeps things and how it may run on this host: the cache (content store and
 * host probe memo), the work directory (overlays, temporary files), the accelerator choice, how
 * long an appliance launch may take, whether the network may be used at all, and how many
 * virtual CPUs each guest (appliance or boot VM) gets.
 */
public record Settings(Path cacheDir, Path workDir, Accelerator accelerator, Duration launchTimeout, boolean offline,
    int guestCpus) {
  public static final String TOOL = "assemble";

  /**
   * Two virtual CPUs per guest: a second one makes tar_in and package installs faster when one
   * guest has the host. Several guests at once under TCG want one each (emulated CPUs of one guest
   * spin on each other's locks when the host has no core for them), see {@link #withGuestCpus}.
   */
  public static final int DEFAULT_GUEST_CPUS = 2;

  public Settings {
    if (guestCpus < 1 || guestCpus > 64) {
      throw new IllegalArgumentException("guest CPUs must be 1 to 64, not " + guestCpus);
    }
  }

  /** Defaults from the environment: {@code $XDG_CACHE_HOME/assemble}, work under it. */
  public static Settings defaults(Map<String, String> env) {
    String xdg = env.get("XDG_CACHE_HOME");
    Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg, TOOL)
        : Path.of(System.getProperty("user.home"), ".cache", TOOL);
    return new Settings(cache, cache.resolve("work"), Accelerator.AUTO, Duration.ofSeconds(60), false,
        DEFAULT_GUEST_CPUS);
  }

  public Settings withCacheDir(Path p) {
    return new Settings(p, workDir.startsWith(cacheDir) ? p.resolve("work") : workDir, accelerator,
        launchTimeout, offline, guestCpus);
  }

  public Settings withWorkDir(Path p) {
    return new Settings(cacheDir, p, accelerator, launchTimeout, offline, guestCpus);
  }

  public Settings withAccelerator(Accelerator a) {
    return new Settings(cacheDir, workDir, a, launchTimeout, offline, guestCpus);
  }

  public Settings withLaunchTimeout(Duration d) {
    return new Settings(cacheDir, workDir, accelerator, d, offline, guestCpus);
  }

  /** No network of any kind: every network client refuses to exist. */
  public Settings withOffline(boolean off) {
    return new Settings(cacheDir, workDir, accelerator, launchTimeout, off, guestCpus);
  }

  /** Virtual CPUs per guest. */
  public Settings withGuestCpus(int n) {
    return new Settings(cacheDir, workDir, accelerator, launchTimeout, offline, n);
  }
}
