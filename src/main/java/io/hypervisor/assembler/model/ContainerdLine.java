package io.hypervisor.assembler.model;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A containerd release line (1.6, 1.7, 2.1 …) and the formats it implies: the config version it
 * reads without migrating (2 for 1.x, 3 for 2.x), the metadata schema it writes (meta.db
 * {@code v1/version}: 3 for 1.x, 4 for 2.x) and whether CRI pins the sandbox image with the
 * {@code io.cri-containerd.pinned} label (1.7 and later). containerd-store.md §2.7, kubernetes-versions.md.
 */
public record ContainerdLine(int major, int minor) {
  private static final Pattern LEADING = Pattern.compile("^(?:\\d+:)?v?(\\d{1,4})\\.(\\d{1,4})(?:\\.(\\d{1,6}))?");

  public ContainerdLine {
    if (major < 0 || minor < 0) {
      throw new IllegalArgumentException("containerd line " + major + "." + minor);
    }
  }

  /** "2.1", "1.6.20", "v2.1.9" → the line; IllegalArgumentException otherwise. */
  public static ContainerdLine parse(String version) {
    return ofVersion(version).orElseThrow(() -> new IllegalArgumentException(
        "not a containerd version: \"" + version + "\" (expected e.g. 2.1 or 1.7.24)"));
  }

  /**
   * The line a package or program version starts with: {@code 2.1.9-1~debian.12~bookworm},
   * {@code 1.6.20~ds1-1+deb12u3}, {@code 1:2.1.9-1.el9}; empty when it does not start with
   * a numeric major.minor.
   */
  public static Optional<ContainerdLine> ofVersion(String version) {
    Matcher m = LEADING.matcher(version == null ? "" : version);
    return m.find() ? Optional.of(new ContainerdLine(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))))
        : Optional.empty();
  }

  /** The upstream release a package version starts with ({@code 2.1.9} of {@code 2.1.9-1~debian.12~bookworm}). */
  public static Optional<String> upstream(String version) {
    Matcher m = LEADING.matcher(version == null ? "" : version);
    return m.find() ? Optional.of(m.group(1) + "." + m.group(2) + (m.group(3) != null ? "." + m.group(3) : ""))
        : Optional.empty();
  }

  public int configVersion() {
    return major >= 2 ? 3 : 2;
  }

  public int metadataVersion() {
    return major >= 2 ? 4 : 3;
  }

  public boolean pinsSandbox() {
    return major >= 2 || minor >= 7;
  }

  @Override
  public String toString() {
    return major + "." + minor;
  }
}
