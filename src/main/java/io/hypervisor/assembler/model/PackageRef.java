package io.hypervisor.assembler.model;

import java.util.regex.Pattern;

/**
 * A distribution package wanted in the image: a name and an optional version pattern. The pattern
 * is either exact ({@code 1.34.2-1.1}) or a prefix ending in {@code *} ({@code 1.34.2-*}), which is
 * how a plan pins "the packaging of upstream 1.34.2" before the repository says which revision.
 */
public record PackageRef(String name, String version) implements Comparable<PackageRef> {
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9+._-]*");

  public PackageRef {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("malformed package name \"" + name + "\"");
    }
    if (version != null && version.isBlank()) {
      version = null;
    }
  }

  /** Parses {@code name}, {@code name=version} (apt) or {@code name-version} is not accepted. */
  public static PackageRef parse(String text) {
    int eq = text.indexOf('=');
    return eq < 0 ? new PackageRef(text.trim(), null)
        : new PackageRef(text.substring(0, eq).trim(), text.substring(eq + 1).trim());
  }

  public static PackageRef of(String name) {
    return new PackageRef(name, null);
  }

  /** Whether a concrete version satisfies this reference's pattern. */
  public boolean accepts(String candidate) {
    if (version == null) {
      return true;
    }
    if (version.endsWith("*")) {
      return candidate.startsWith(version.substring(0, version.length() - 1));
    }
    return candidate.equals(version);
  }

  @Override
  public int compareTo(PackageRef o) {
    return name.compareTo(o.name);
  }

  @Override
  public String toString() {
    return version == null ? name : name + "=" + version;
  }
}
