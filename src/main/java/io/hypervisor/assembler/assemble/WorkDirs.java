package io.hypervisor.assembler.assemble;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Per-run directories under the work directory (build overlays, boot overlays), each naming the
 * process that owns it, so a run killed with SIGKILL or lost in a host crash leaves nothing that
 * the next run does not sweep: each holds a multi-GB overlay.
 */
final class WorkDirs {
  /** The file naming the process that owns a run directory. */
  private static final String OWNER = "owner.pid";
  private static final String[] PREFIXES = {"build-", "boot-", "diff-"};

  private WorkDirs() {}

  /** Sweeps dead runs' directories, then makes a new one for this process, e.g. {@code build-123…}. */
  static Path create(Path workDir, String prefix) throws IOException {
    Files.createDirectories(workDir);
    sweep(workDir);
    Path dir = Files.createTempDirectory(workDir, prefix);
    Files.writeString(dir.resolve(OWNER), Long.toString(ProcessHandle.current().pid()));
    return dir;
  }

  /** Removes run directories whose owner process is gone; one without an owner file is being created. */
  static void sweep(Path workDir) throws IOException {
    try (Stream<Path> dirs = Files.list(workDir)) {
      for (Path d : dirs.filter(WorkDirs::isRunDir).toList()) {
        long pid;
        try {
          pid = Long.parseLong(Files.readString(d.resolve(OWNER)).trim());
        } catch (IOException | NumberFormatException e) {
          continue;
        }
        if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
          delete(d);
        }
      }
    }
  }

  private static boolean isRunDir(Path p) {
    String name = p.getFileName().toString();
    for (String prefix : PREFIXES) {
      if (name.startsWith(prefix) && Files.isDirectory(p)) {
        return true;
      }
    }
    return false;
  }

  /** Deletes a tree, quietly: a leftover is swept by a later run. */
  static void delete(Path dir) {
    io.hypervisor.assembler.model.FileTrees.deleteQuietly(dir);
  }
}
