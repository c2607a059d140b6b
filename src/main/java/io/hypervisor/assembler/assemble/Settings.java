package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.model.Accelerator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Where the assembler keeps things and how it may run on this host: the cache (content store and
 * host probe memo), the work directory (overlays, temporary files), the accelerator choice, how
 * long an appliance launch may take, and whether the network may be used at all.
 */
public record Settings(Path cacheDir, Path workDir, Accelerator accelerator, Duration launchTimeout, boolean offline) {
  public static final String TOOL = "assemble";

  /** Defaults from the environment: {@code $XDG_CACHE_HOME/assemble}, work under it. */
  public static Settings defaults(Map<String, String> env) {
    String xdg = env.get("XDG_CACHE_HOME");
    Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg, TOOL)
        : Path.of(System.getProperty("user.home"), ".cache", TOOL);
    return new Settings(cache, cache.resolve("work"), Accelerator.AUTO, Duration.ofSeconds(60), false);
  }

  public Settings withCacheDir(Path p) {
    return new Settings(p, workDir.startsWith(cacheDir) ? p.resolve("work") : workDir, accelerator,
        launchTimeout, offline);
  }

  public Settings withWorkDir(Path p) {
    return new Settings(cacheDir, p, accelerator, launchTimeout, offline);
  }

  public Settings withAccelerator(Accelerator a) {
    return new Settings(cacheDir, workDir, a, launchTimeout, offline);
  }

  public Settings withLaunchTimeout(Duration d) {
    return new Settings(cacheDir, workDir, accelerator, d, offline);
  }

  /** No network of any kind: every network client refuses to exist. */
  public Settings withOffline(boolean off) {
    return new Settings(cacheDir, workDir, accelerator, launchTimeout, off);
  }
}
