package io.hypervisor.assembler.model;

import java.util.Locale;

/**
 * An os/architecture[/variant] triple, normalised as containerd does (containerd/platforms
 * database.go): {@code x86_64} is amd64, {@code aarch64} is arm64, arm64/v8 is plain arm64.
 */
public record Platform(String os, String architecture, String variant) {
  public static final Platform LINUX_AMD64 = new Platform("linux", "amd64", "");
  public static final Platform LINUX_ARM64 = new Platform("linux", "arm64", "");

  public Platform {
    if (os == null || os.isBlank() || architecture == null || architecture.isBlank()) {
      throw new IllegalArgumentException("a platform needs an os and an architecture");
    }
    os = os.toLowerCase(Locale.ROOT);
    String arch = architecture.toLowerCase(Locale.ROOT);
    String v = variant == null ? "" : variant.toLowerCase(Locale.ROOT);
    switch (arch) {
      case "x86_64", "x86-64", "amd64" -> {
        arch = "amd64";
        if (v.equals("v1")) {
          v = "";
        }
      }
      case "aarch64", "arm64" -> {
        arch = "arm64";
        if (v.equals("8") || v.equals("v8") || v.equals("v8.0")) {
          v = "";
        } else if (v.equals("9") || v.equals("v9.0")) {
          v = "v9";
        }
      }
      case "armhf" -> {
        arch = "arm";
        v = "v7";
      }
      case "armel" -> {
        arch = "arm";
        v = "v6";
      }
      case "arm" -> {
        if (v.isEmpty() || v.equals("7")) {
          v = "v7";
        } else if (v.matches("[5-8]")) {
          v = "v" + v;
        }
      }
      case "i386", "i686" -> arch = "386";
      default -> { }
    }
    architecture = arch;
    variant = v;
  }

  /** Parses {@code os/arch[/variant]}. */
  public static Platform parse(String text) {
    String[] parts = text.trim().split("/");
    if (parts.length < 2 || parts.length > 3) {
      throw new IllegalArgumentException(
          "malformed platform \"" + text + "\": expected os/architecture[/variant], e.g. linux/arm64");
    }
    return new Platform(parts[0], parts[1], parts.length == 3 ? parts[2] : "");
  }

  /** The platform of a node whose Debian/RPM architecture name is given (amd64, arm64, x86_64 …). */
  /** The architecture as rpm and dnf name it ($basearch): x86_64 for amd64, aarch64 for arm64. */
  public static String rpmArch(String arch) {
    return arch.equals("amd64") ? "x86_64" : arch.equals("arm64") ? "aarch64" : arch;
  }

  public static Platform linux(String arch) {
    return new Platform("linux", arch, "");
  }

  @Override
  public String toString() {
    return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
  }
}
