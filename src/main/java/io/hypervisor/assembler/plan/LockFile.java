package io.hypervisor.assembler.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.SmallFiles;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Reads and writes lock files (stable JSON), and fingerprints the plan inputs a lock answers. */
public final class LockFile {
  private static final ObjectMapper JSON = Json.MAPPER;

  private LockFile() {}

  public static String json(Lock lock) {
    try {
      return JSON.writeValueAsString(lock) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writes atomically: the file appears complete or not at all. */
  public static void write(Lock lock, Path file) throws IOException {
    Path abs = file.toAbsolutePath();
    Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp");
    Files.writeString(tmp, json(lock), StandardCharsets.UTF_8);
    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** Reads and validates a lock file; every problem is reported at once. */
  public static Lock read(Path file) {
    Lock lock;
    try {
      lock = JSON.readValue(SmallFiles.readString(file, SmallFiles.LOCK, "lock"), Lock.class);
    } catch (JsonProcessingException e) {
      throw AssemblerException.input("reading the lock " + file + ": " + e.getOriginalMessage(),
          "write it again with assemble plan RECIPE --lock " + file);
    } catch (java.nio.file.NoSuchFileException e) {
      throw AssemblerException.input("no lock at " + file, "check the path, or write one: assemble plan RECIPE --lock "
          + file);
    } catch (IOException e) {
      throw AssemblerException.input("reading the lock " + file + ": " + e.getMessage(), "check the path");
    }
    if (lock == null) {
      throw AssemblerException.input("the lock " + file + " is empty", "write it again with assemble plan RECIPE --lock "
          + file);
    }
    var problems = lock.problems();
    if (!problems.isEmpty()) {
      throw AssemblerException.input("the lock " + file + " is not usable: " + String.join("; ", problems),
          "write it again with assemble plan RECIPE --lock " + file);
    }
    return lock;
  }

  /**
   * The fingerprint of what a lock answers for a plan: the base image, the Kubernetes version
   * and role, the package requests, the repositories by name and suite, the image references.
   * Repository URLs and registry mirrors are left out: they say where to fetch, not what.
   */
  public static String inputs(Plan p) {
    ObjectNode n = JSON.createObjectNode();
    n.put("base", p.base().sha256() != null ? p.base().sha256()
        : p.base().url() != null ? p.base().url() : p.base().path());
    n.put("distro", p.base().distro());
    n.put("arch", p.base().arch());
    n.put("kubernetes", p.kubernetes().version());
    var repos = n.putArray("repositories");
    p.repositories().forEach(r -> repos.addObject().put("name", r.name()).put("suite", r.suite())
        .put("components", String.join(" ", r.components())));
    var pkgs = n.putArray("packages");
    p.packages().forEach(k -> pkgs.addObject().put("name", k.name()).put("version", k.version())
        .put("repository", k.repository()));
    var images = n.putArray("images");
    p.images().forEach(i -> images.add(i.ref()));
    try {
      return Digest.sha256(JSON.writeValueAsBytes(n)).toString();
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Why a lock does not answer this plan (empty if it does). */
  public static java.util.List<String> mismatch(Lock lock, Plan plan) {
    java.util.List<String> out = new java.util.ArrayList<>();
    String want = inputs(plan);
    if (!want.equals(lock.inputs())) {
      out.add("the lock was made for other plan inputs (" + lock.inputs() + ", this plan is " + want
          + "): packages, repositories, images, base image or Kubernetes version changed");
    }
    return out;
  }
}
