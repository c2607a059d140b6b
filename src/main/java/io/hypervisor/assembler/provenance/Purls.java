package io.hypervisor.assembler.provenance;

import io.hypervisor.assembler.model.ImageRef;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * Package URLs (package-url/purl-spec) for what an image holds: {@code pkg:deb/debian/NAME@VERSION?arch=&distro=},
 * {@code pkg:rpm/<os id>/NAME@VERSION?arch=&distro=}, {@code pkg:oci/NAME@sha256:…?repository_url=&tag=}.
 * Canonical form as the purl specification's reference implementation (packageurl-js) writes it:
 * names percent-encoded but for unreserved characters, versions also keeping {@code :} and {@code +}
 * ({@code 1:1.10.3-1}, {@code 5.2.15-2+b7}, {@code sha256:…}), qualifier values form-encoded, sorted.
 */
final class Purls {
  private Purls() {}

  /** A distribution package; {@code family} apt or dnf, {@code distroId} e.g. debian, rocky. */
  static String pkg(String family, String distroId, String distro, String name, String version, String arch) {
    Map<String, String> q = new TreeMap<>();
    if (arch != null && !arch.isEmpty()) {
      q.put("arch", arch);
    }
    q.put("distro", distro);
    return "pkg:" + (family.equals("apt") ? "deb" : "rpm") + "/" + encode(distroId, "") + "/" + encode(name, "") + "@"
        + encode(version, VERSION_SAFE) + qualifiers(q);
  }

  /** A container image pinned by digest, named by its last path segment, located by repository_url. */
  static String oci(ImageRef ref, String digest) {
    String repo = ref.repository();
    String name = repo.substring(repo.lastIndexOf('/') + 1);
    Map<String, String> q = new TreeMap<>();
    q.put("repository_url", ref.registry() + "/" + repo);
    if (ref.tag() != null) {
      q.put("tag", ref.tag());
    }
    return "pkg:oci/" + encode(name, "") + "@" + encode(digest, VERSION_SAFE) + qualifiers(q);
  }

  private static String qualifiers(Map<String, String> q) {
    StringBuilder b = new StringBuilder();
    q.forEach((k, v) -> b.append(b.length() == 0 ? '?' : '&').append(k).append('=').append(encode(v, "").replace("~", "%7E")));
    return b.toString();
  }

  /** What a version keeps unencoded beyond the unreserved characters. */
  private static final String VERSION_SAFE = ":+";

  /** Percent-encodes everything but RFC 3986 unreserved characters and those in {@code safe}. */
  static String encode(String s, String safe) {
    StringBuilder b = new StringBuilder();
    for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
      int c = x & 0xff;
      if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
          || c == '~' || safe.indexOf(c) >= 0) {
        b.append((char) c);
      } else {
        b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    return b.toString();
  }
}
