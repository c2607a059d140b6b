package io.hypervisor.assembler.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A plan made exact: every package of the dependency closure with the file that installs it
 * (name, version, architecture, repository, URL, sha256, size), in install order, and every
 * image reference with the digest it resolved to. A build given a lock fetches exactly that and
 * refuses anything else. {@code inputs} fingerprints the parts of the plan the lock answers
 * (packages, repositories by name, images, base image, Kubernetes version), and {@code installed}
 * the base image's package database the closure was computed against, so a stale lock is noticed.
 * {@code base} is the digest of a downloaded base image and {@code keys} the digest of each
 * repository's pinned key file, so a build from the lock needs no network for them either.
 */
public record Lock(int formatVersion, String plan, String inputs, String installed, String family,
    String architecture, String base, java.util.Map<String, String> keys, List<Package> packages, List<Image> images) {

  public static final int FORMAT_VERSION = 1;
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

  public Lock {
    keys = keys == null ? java.util.Map.of() : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(keys));
    packages = packages == null ? List.of() : List.copyOf(packages);
    images = images == null ? List.of() : List.copyOf(images);
  }

  /** One package file to install. */
  public record Package(String name, String version, String architecture, String repository, String url,
      String sha256, long size) {}

  /** One image reference and the digest (index or manifest) it resolved to. */
  public record Image(String ref, String digest) {}

  /** Everything wrong with a lock read from a file (empty when it is usable). */
  public List<String> problems() {
    List<String> out = new ArrayList<>();
    if (formatVersion != FORMAT_VERSION) {
      out.add("formatVersion is " + formatVersion + "; this assembler reads version " + FORMAT_VERSION);
    }
    if (inputs == null || !DIGEST.matcher(inputs).matches()) {
      out.add("inputs is missing or not a sha256 digest");
    }
    if (base != null && !base.matches("sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})")) {
      out.add("base must be a sha256 or sha512 digest");
    }
    keys.forEach((repo, d) -> {
      if (d == null || !DIGEST.matcher(d).matches()) {
        out.add("keys." + repo + " must be a sha256 digest");
      }
    });
    for (int i = 0; i < packages.size(); i++) {
      Package p = packages.get(i);
      String at = "packages[" + i + "]";
      if (p.name() == null || p.version() == null || p.architecture() == null || p.repository() == null) {
        out.add(at + ": name, version, architecture and repository are required");
      }
      if (p.url() == null || !(p.url().startsWith("http://") || p.url().startsWith("https://"))) {
        out.add(at + " (" + p.name() + "): url must be http(s)");
      }
      if (p.sha256() == null || !SHA256.matcher(p.sha256()).matches()) {
        out.add(at + " (" + p.name() + "): sha256 must be 64 lower-case hex characters");
      }
      if (p.size() <= 0) {
        out.add(at + " (" + p.name() + "): size must be positive");
      }
    }
    for (int i = 0; i < images.size(); i++) {
      Image im = images.get(i);
      if (im.ref() == null || im.digest() == null || !DIGEST.matcher(im.digest()).matches()) {
        out.add("images[" + i + "]: ref and a sha256 digest are required");
      }
    }
    return out;
  }
}
