package io.hypervisor.assembler.model;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A Linux distribution release such as {@code debian-12} or {@code rocky-9}: what a recipe expects
 * its base image to be, and what libguestfs inspection finds in it.
 */
public record Distro(String id, String version) {
  /** Supported distributions with their minimum major version and package family. */
  private record Support(OsFamily family, int minMajor, int maxMajor) {}

  private static final Map<String, Support> SUPPORTED = Map.of(
      "debian", new Support(OsFamily.APT, 12, 13),
      "ubuntu", new Support(OsFamily.APT, 22, Integer.MAX_VALUE),
      "rhel", new Support(OsFamily.DNF, 9, Integer.MAX_VALUE),
      "centos-stream", new Support(OsFamily.DNF, 9, Integer.MAX_VALUE),
      "rocky", new Support(OsFamily.DNF, 9, Integer.MAX_VALUE),
      "almalinux", new Support(OsFamily.DNF, 9, Integer.MAX_VALUE),
      "fedora", new Support(OsFamily.DNF, 39, Integer.MAX_VALUE));

  /** Names libguestfs or os-release use for the same distribution. */
  private static final Map<String, String> ALIASES = Map.of(
      "centos", "centos-stream", "redhat", "rhel", "redhat-based", "rhel", "alma", "almalinux",
      "rockylinux", "rocky");

  private static final Map<String, String> CODENAMES = Map.of(
      "debian-12", "bookworm", "debian-13", "trixie", "ubuntu-22.04", "jammy",
      "ubuntu-24.04", "noble", "ubuntu-24.10", "oracular", "ubuntu-25.04", "plucky",
      "ubuntu-25.10", "questing", "ubuntu-26.04", "resolute");

  public Distro {
    id = ALIASES.getOrDefault(id.toLowerCase(Locale.ROOT), id.toLowerCase(Locale.ROOT));
    // Bounded digits: a release number never needs more, and more would overflow an int later.
    if (!version.matches("[0-9]{1,4}(\\.[0-9]{1,4})?")) {
      throw new IllegalArgumentException("malformed version \"" + version + "\" of " + id);
    }
  }

  /** Parses {@code debian-12}, {@code ubuntu-24.04}, {@code centos-stream-9}. */
  public static Distro parse(String text) {
    int dash = text.lastIndexOf('-');
    if (dash <= 0 || dash == text.length() - 1) {
      throw new IllegalArgumentException("malformed distribution \"" + text
          + "\": expected <id>-<version>, e.g. debian-12, ubuntu-24.04, rocky-9");
    }
    return new Distro(text.substring(0, dash), text.substring(dash + 1));
  }

  public int major() {
    int dot = version.indexOf('.');
    return Integer.parseInt(dot < 0 ? version : version.substring(0, dot));
  }

  /** Whether the assembler supports this release; {@link #supportProblem()} says why not. */
  public boolean supported() {
    return supportProblem() == null;
  }

  /** Why this release is not supported, or {@code null}. */
  public String supportProblem() {
    Support s = SUPPORTED.get(id);
    if (s == null) {
      return "unsupported distribution \"" + id + "\"";
    }
    if (major() < s.minMajor || major() > s.maxMajor) {
      return id + " " + version + " is not supported";
    }
    if (id.equals("ubuntu") && !version.contains(".")) {
      return "Ubuntu versions have a point release, e.g. ubuntu-24.04";
    }
    return null;
  }

  /**
   * Whether an image identified as {@code id major.minor} (os-release's ID, or inspection's name)
   * is this release: the same distribution by any of its names, the same major version, and the
   * same minor when this one names a minor ({@code ubuntu-24.04}, {@code rocky-9.4}).
   */
  public boolean matches(String imageId, int imageMajor, int imageMinor) {
    String other = ALIASES.getOrDefault(imageId.toLowerCase(Locale.ROOT), imageId.toLowerCase(Locale.ROOT));
    if (!id.equals(other) || major() != imageMajor) {
      return false;
    }
    int dot = version.indexOf('.');
    return dot < 0 || Integer.parseInt(version.substring(dot + 1)) == imageMinor;
  }

  /**
   * The KEY=value lines of an os-release file (os-release(5)), values unquoted (shell-style
   * quotes, without escapes); comments and other lines are skipped.
   */
  public static Map<String, String> osReleaseFields(String text) {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    for (String line : text.split("\n")) {
      int eq = line.indexOf('=');
      if (eq <= 0 || line.startsWith("#")) {
        continue;
      }
      String v = line.substring(eq + 1).trim();
      if (v.length() >= 2 && (v.charAt(0) == '"' || v.charAt(0) == '\'') && v.charAt(v.length() - 1) == v.charAt(0)) {
        v = v.substring(1, v.length() - 1);
      }
      out.put(line.substring(0, eq).trim(), v);
    }
    return out;
  }

  /** Every supported distribution, for hints. */
  public static String supportedList() {
    return "ubuntu-22.04+, debian-12, debian-13, rhel-9+, centos-stream-9+, rocky-9+, "
        + "almalinux-9+, fedora-39+";
  }

  public OsFamily family() {
    Support s = SUPPORTED.get(id);
    if (s == null) {
      throw new IllegalStateException(supportProblem());
    }
    return s.family;
  }

  /** The apt suite codename (bookworm, noble …), or {@code null} when unknown or not apt. */
  public String codename() {
    return CODENAMES.get(toString());
  }

  /** Whether another release (from inspection) is the same distribution and major release. */
  public boolean sameRelease(Distro other) {
    if (!id.equals(other.id)) {
      return false;
    }
    // Ubuntu's point release is part of its identity; Debian/RHEL minors (12.5, 9.4) are not.
    return id.equals("ubuntu") ? version.equals(other.version) : major() == other.major();
  }

  public static List<String> ids() {
    return SUPPORTED.keySet().stream().sorted().toList();
  }

  @Override
  public String toString() {
    return id + "-" + version;
  }
}
