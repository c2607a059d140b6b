package io.hypervisor.assembler.plan;

import java.time.Instant;
import java.util.List;

/**
 * Everything a finished build can tell about what went into its image, for the documents that
 * describe it (SBOMs, provenance, checksums): the plan and the lock it followed, the image file
 * and its digest, the build's epoch, the packages the base already had, every seeded container
 * image down to its platform manifest, and the files the recipe came from.
 */
public record BuildRecord(Plan plan, Lock lock, String lockSha256, String planSha256, List<RecipeFile> recipes,
    Artifact image, Base base, Instant epoch, List<BasePackage> basePackages, List<SeededImage> images, String tool) {

  public BuildRecord {
    recipes = List.copyOf(recipes);
    basePackages = List.copyOf(basePackages);
    images = List.copyOf(images);
  }

  /** The base image: where it came from (its URL, or a local file as a file: URI) and its digest ({@code sha256:…}). */
  public record Base(String uri, String digest) {}

  /** A recipe file (or one it extends) and the sha256 of its bytes. */
  public record RecipeFile(String path, String sha256) {}

  /** The image file: its name beside the others, sha256, size, virtual size and format. */
  public record Artifact(String file, String sha256, long size, long virtualSize, String format) {}

  /** A package the base image had before the build (from its package database). */
  public record BasePackage(String name, String version, String arch) {}

  /**
   * A container image seeded into containerd: the reference, the digest it was pinned by (index or
   * manifest), its media type, and the platform manifest the node uses.
   */
  public record SeededImage(String ref, String digest, String mediaType, String platform, String manifestDigest,
      String configDigest) {}
}
