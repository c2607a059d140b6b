package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.pkgrepo.apt.DebRepack;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.steps.PackagesStep;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The lock's package files as the packages step sends them into the image: a .deb with a large
 * xz data member is rewritten with zstd data on the host ({@link DebRepack}), in the background
 * once the build knows its packages step will run and the file is in the content store (with a
 * lock or the base's recorded facts, before the appliance starts), on the core the TCG appliance
 * leaves free; every other file, and any rewrite that
 * fails (said as a warning), goes from the content store as it is.
 */
final class PackageFiles implements PackagesStep.Files, AutoCloseable {
  private final ContentStore store;
  private final Path dir;
  private final EventSink events;
  private final ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "deb-repack");
    t.setDaemon(true);
    return t;
  });
  private final Map<Digest, Future<Path>> started = new ConcurrentHashMap<>();

  PackageFiles(ContentStore store, Path dir, EventSink events) {
    this.store = store;
    this.dir = dir;
    this.events = events;
  }

  /** Starts the rewrites of the lock's .debs that are in the content store and not started yet. */
  void start(Lock lock) {
    if (!"apt".equals(lock.family())) {
      return; // an rpm's signed header covers its payload's digest: it goes as it is
    }
    for (Lock.Package p : lock.packages()) {
      Digest d = Digest.ofSha256Hex(p.sha256());
      Path source = store.path(d);
      if (Files.isRegularFile(source)) {
        started.computeIfAbsent(d, k -> pool.submit(() -> rewrite(source, d, p.name() + " " + p.version())));
      }
    }
  }

  private Path rewrite(Path source, Digest d, String what) throws IOException {
    if (!DebRepack.worthIt(source)) {
      return source;
    }
    long t = System.nanoTime();
    Files.createDirectories(dir);
    Path out = dir.resolve(d.encoded().replace(':', '-') + ".deb");
    DebRepack.toZstd(source, out, what);
    events.debug(String.format(java.util.Locale.ROOT,
        "%s: data rewritten from xz to zstd on the host in %.1f s (%d -> %d MiB)", what, (System.nanoTime() - t) / 1e9, Files.size(source) >> 20, Files.size(out) >> 20));
    return out;
  }

  @Override
  public Path path(PackagesStep.PackageFile p) throws IOException {
    Future<Path> f = started.get(p.digest());
    if (f == null) {
      return store.path(p.digest());
    }
    try {
      return f.get();
    } catch (ExecutionException e) {
      events.warn(p.name() + " " + p.version() + " goes into the image as it is (the zstd rewrite failed: "
          + e.getCause().getMessage() + ")");
      return store.path(p.digest());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while " + p.name() + " was rewritten", e);
    }
  }

  @Override
  public void close() {
    pool.shutdownNow();
    try {
      // a rewrite still running would write into the work directory after the build removed it
      pool.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
