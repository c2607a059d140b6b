package io.hypervisor.assembler.model;

import java.util.regex.Pattern;

/**
 * A normalised container image reference {@code registry/repository[:tag][@digest]}, as
 * containerd's CRI names images: {@code busybox} is {@code docker.io/library/busybox:latest}.
 */
public record ImageRef(String registry, String repository, String tag, Digest digest) {
  private static final Pattern COMPONENT =
      Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  private static final Pattern DOMAIN =
      Pattern.compile("(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?::[0-9]+)?|\\[[0-9a-fA-F:]+\\](?::[0-9]+)?");
  public static final String DOCKER_HUB = "docker.io";

  public ImageRef {
    if (registry == null || !DOMAIN.matcher(registry).matches()) {
      throw new IllegalArgumentException("malformed registry host \"" + registry + "\"");
    }
    if (repository == null || repository.isEmpty()) {
      throw new IllegalArgumentException("an image reference needs a repository");
    }
    for (String c : repository.split("/", -1)) {
      if (!COMPONENT.matcher(c).matches()) {
        throw new IllegalArgumentException("malformed repository \"" + repository
            + "\": components are lower-case letters and digits separated by . _ -");
      }
    }
    if (tag != null && !TAG.matcher(tag).matches()) {
      throw new IllegalArgumentException("malformed tag \"" + tag + "\"");
    }
    if (tag == null && digest == null) {
      tag = "latest";
    }
  }

  /** Parses and normalises a reference; throws {@link IllegalArgumentException} with the reason. */
  public static ImageRef parse(String text) {
    if (text == null || text.isBlank()) {
      throw new IllegalArgumentException("empty image reference");
    }
    String rest = text.trim();
    Digest digest = null;
    int at = rest.indexOf('@');
    if (at >= 0) {
      digest = Digest.parse(rest.substring(at + 1));
      rest = rest.substring(0, at);
    }
    String tag = null;
    int slash = rest.lastIndexOf('/');
    int colon = rest.lastIndexOf(':');
    if (colon > slash) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
    }
    String registry;
    String repository;
    int first = rest.indexOf('/');
    String head = first < 0 ? rest : rest.substring(0, first);
    if (first > 0 && (head.contains(".") || head.contains(":") || head.equals("localhost")
        || head.startsWith("["))) {
      registry = head;
      repository = rest.substring(first + 1);
    } else {
      registry = DOCKER_HUB;
      repository = rest;
    }
    if (registry.equals("index.docker.io") || registry.equals("registry-1.docker.io")) {
      registry = DOCKER_HUB;
    }
    if (registry.equals(DOCKER_HUB) && !repository.contains("/")) {
      repository = "library/" + repository;
    }
    if (!repository.equals(repository.toLowerCase(java.util.Locale.ROOT))) {
      throw new IllegalArgumentException("malformed image reference \"" + text
          + "\": repository names must be lower case");
    }
    return new ImageRef(registry, repository, tag, digest);
  }

  /** {@code registry/repository}, the name without tag or digest. */
  public String name() {
    return registry + "/" + repository;
  }

  public ImageRef withDigest(Digest d) {
    return new ImageRef(registry, repository, tag, d);
  }

  public ImageRef withRegistry(String r) {
    return new ImageRef(r, repository, tag, digest);
  }

  /** {@code name:tag}, or {@code null} when the reference has no tag. */
  public String tagged() {
    return tag == null ? null : name() + ":" + tag;
  }

  /** {@code name@digest}, or {@code null} when the reference has no digest. */
  public String digested() {
    return digest == null ? null : name() + "@" + digest;
  }

  /** The tag, or else the digest: what a registry's manifests endpoint is asked for. */
  public String manifestReference() {
    return digest != null ? digest.toString() : tag;
  }

  @Override
  public String toString() {
    return name() + (tag == null ? "" : ":" + tag) + (digest == null ? "" : "@" + digest);
  }
}
