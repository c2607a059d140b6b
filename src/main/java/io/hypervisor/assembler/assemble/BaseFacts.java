package io.hypervisor.assembler.assemble;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.apt.PackagesIndex;
import io.hypervisor.assembler.pkgrepo.rpm.RpmInstalled;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.steps.SelinuxRelabelStep;
import java.io.IOException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a build reads from its base before it changes anything: the identity as inspected, the
 * base's own date (its package database's time), the package database, the package configuration
 * the resolvers and the fetch read (the same snapshot {@code assemble plan --lock} resolves
 * against), the sha256 of every partition but the root's, and the newest ctime on its file
 * systems (what the relabel tells the build's own changes by). All of it is a function of the base
 * image's bytes, so it is kept in the step cache by the base's digest: a build that finds it, and
 * a cached layer, launches its one appliance on that layer and never on the base.
 *
 * @param files the package configuration's files (base64), as {@link Locker#snapshot} copies them
 * @param dirs the directory listings of that walk
 * @param newestChange the newest ctime (seconds) on the base's file systems, or null (no SELinux in the image)
 */
record BaseFacts(int version, ImageSession.OsInfo os, long epoch, Map<String, String> outsideRoot,
    String packageDatabase, Map<String, String> files, Map<String, List<String>> dirs, Long newestChange) {
  /** Bump when what is recorded changes: older records are then read again from the base. */
  static final int VERSION = 4; // 2: the OS named by os-release; 3: the newest change; 4: partitions hashed on the host
  private static final ObjectMapper JSON = new ObjectMapper();

  BaseFacts {
    outsideRoot = Map.copyOf(outsideRoot);
    files = Map.copyOf(files);
    dirs = Map.copyOf(dirs);
  }

  /** Reads the facts from the open base (before any step has run). */
  static BaseFacts read(ImageSession image, Plan plan, long epoch,
      java.util.concurrent.CompletableFuture<Map<String, String>> outsideRoot) throws IOException {
    Map<String, String> files = new LinkedHashMap<>();
    Map<String, List<String>> dirs = new LinkedHashMap<>();
    Locker.walkConfiguration(TarredFiles.of(image, Locker.configurationDirs(plan)), plan,
        (path, bytes) -> files.put(path, Base64.getEncoder().encodeToString(bytes)), dirs::put);
    byte[] db = Locker.packageDatabase(image, plan);
    Long newest = SelinuxRelabelStep.newestChange(image);
    return new BaseFacts(VERSION, image.os(), epoch, Assembler.joined(outsideRoot),
        Base64.getEncoder().encodeToString(db), files, dirs, newest);
  }

  /** The package configuration as the resolvers read it (a file not recorded does not exist). */
  ImageFiles configuration() {
    return new ImageFiles() {
      @Override
      public byte[] read(String path) {
        String b = files.get(path);
        return b == null ? null : Base64.getDecoder().decode(b);
      }

      @Override
      public List<String> list(String dir) {
        return dirs.getOrDefault(dir, List.of());
      }
    };
  }

  /** The installed packages, parsed as {@link Locker#imagePackages} parses them from the image. */
  Locker.ImagePackages packages(Plan plan) throws IOException {
    byte[] db = Base64.getDecoder().decode(packageDatabase);
    return Locker.imagePackages(configuration(), db, plan);
  }

  byte[] json() throws IOException {
    return JSON.writeValueAsBytes(this);
  }

  /** The recorded facts, or null when they are from another version or unreadable (read from the base again). */
  static BaseFacts parse(byte[] json) {
    try {
      BaseFacts f = JSON.readValue(json, BaseFacts.class);
      return f.version() == VERSION ? f : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
