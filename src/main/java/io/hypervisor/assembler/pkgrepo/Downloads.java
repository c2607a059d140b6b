package io.hypervisor.assembler.pkgrepo;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.DigestMismatchException;
import io.hypervisor.assembler.content.Ingest;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.Authenticator;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Repository files into the content store, each under the digest and size a signed index names:
 * index files (Packages, primary.xml) and packages. A file whose bytes differ never enters the
 * store; a package may additionally have to pass a family check (an rpm's own signature) before
 * it does. Downloads resume with Range, like every other download of the assembler.
 */
public final class Downloads {
  /** A family rule a package file must pass after its hash matched (may be null). */
  @FunctionalInterface
  public interface Check {
    void check(Candidate pkg, java.nio.file.Path file) throws IOException;
  }

  private static final int PARALLEL = 4;
  private final HttpTransport http;
  private final ContentStore store;
  private final EventSink events;

  public Downloads(HttpTransport http, ContentStore store, EventSink events) {
    this.http = http;
    this.store = store;
    this.events = events;
  }

  public ContentStore store() {
    return store;
  }

  /** One file into the store under its digest; nothing happens if it is already there. */
  public void fetch(URI url, Digest digest, long size, String what, Ingest.Check check) throws IOException {
    try (Ingest ingest = store.ingest(digest, size)) {
      if (ingest == null) {
        if (check != null) {
          check.check(store.path(digest)); // a stored file must pass this build's rule too
        }
        return;
      }
      try {
        http.download(url, Map.of(), Authenticator.NONE,
            HttpTransport.BodySink.of(ingest::offset, ingest::write, ingest::restart), size, what);
      } catch (DigestMismatchException e) {
        ingest.restart(); // too many bytes: this partial file can never become the blob
        throw new IOException("downloading " + what + " from " + HttpTransport.redact(url) + ": " + e.getMessage()
            + "; the file differs from what the signed index says (a broken mirror or tampering)", e);
      }
      try {
        ingest.commit(check);
      } catch (IOException e) {
        throw new IOException("downloading " + what + " from " + HttpTransport.redact(url) + ": " + e.getMessage()
            + "; the file differs from what the signed index says (a broken mirror or tampering)", e);
      }
    }
  }

  /** Every package into the store (a few at a time), verified; the first failure is thrown after all finished. */
  public void packages(List<Candidate> pkgs, Check check) throws IOException {
    long total = pkgs.stream().mapToLong(Candidate::size).sum();
    try (EventSink.Step step = events.step("download packages", pkgs.size() + " packages, " + total + " bytes")) {
      ExecutorService pool = Executors.newFixedThreadPool(PARALLEL, r -> {
        Thread t = new Thread(r, "package-download");
        t.setDaemon(true);
        return t;
      });
      try {
        List<Future<?>> futures = new ArrayList<>();
        for (Candidate c : pkgs) {
          if (c.installed()) {
            throw new IllegalArgumentException(c + " is an installed package, not a download");
          }
          futures.add(pool.submit(() -> {
            fetch(URI.create(c.url()), Digest.ofSha256Hex(c.sha256()), c.size(), c.name() + " " + c.version(),
                check == null ? null : file -> check.check(c, file));
            return null;
          }));
        }
        List<String> failures = new ArrayList<>();
        IOException first = null;
        for (Future<?> f : futures) {
          try {
            f.get();
          } catch (ExecutionException e) {
            IOException io = e.getCause() instanceof IOException x ? x : new IOException(e.getCause());
            failures.add(io.getMessage());
            first = first == null ? io : first;
          }
        }
        if (first != null) {
          throw failures.size() == 1 ? first
              : new IOException(failures.size() + " packages failed: " + String.join("; ", failures), first);
        }
        step.ok(pkgs.size() + " packages verified");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while downloading packages");
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
