package io.hypervisor.assembler.pkgrepo.apt;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.Authenticator;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.pkgrepo.Compression;
import io.hypervisor.assembler.pkgrepo.Downloads;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.pkgrepo.Universe;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads repositories as apt does, trusting nothing unverified: InRelease (clearsigned), or
 * Release with Release.gpg, verified against the repository's keys; a Valid-Until in the past is
 * refused; every Packages file is downloaded into the content store under the SHA256 the signed
 * Release names (so a tampered index never gets in), preferring .xz, then .gz, then plain.
 */
public final class AptIndexer {
  private static final long MAX_RELEASE = 32L << 20;
  private final HttpTransport http;
  private final Downloads downloads;
  private final EventSink events;

  public AptIndexer(HttpTransport http, Downloads downloads, EventSink events) {
    this.http = http;
    this.downloads = downloads;
    this.events = events;
  }

  /** A verified Release: its fields and its SHA256 file list. */
  public record Release(Map<String, String> fields, Map<String, Entry> sha256) {
    /** One file the Release lists. */
    public record Entry(String path, Digest digest, long size) {}
  }

  /** Fetches and verifies every repository's indexes and parses them into one universe. */
  public Universe index(List<AptRepository> repos, String arch) throws IOException {
    Universe u = new Universe(DebVersion.SCHEME, Set.of(arch, "all"));
    for (AptRepository r : repos) {
      try (EventSink.Step step = events.step("index " + r.name(), r.uri())) {
        int before = u.size();
        Release rel = release(r);
        for (Release.Entry e : indexes(r, rel, arch)) {
          fetch(r, e);
          try (InputStream in = Compression.open(downloads.store().open(e.digest()), e.path(),
              downloads.store().size(e.digest()))) {
            PackagesIndex.parse(in, r, arch, u::add);
          }
        }
        step.ok((u.size() - before) + " packages");
      }
    }
    return u;
  }

  /** The verified Release of a repository. */
  public Release release(AptRepository r) throws IOException {
    String base = r.releaseBase();
    HttpTransport.Response in = http.get(URI.create(base + "InRelease"), Map.of(), Authenticator.NONE, MAX_RELEASE);
    byte[] text;
    if (in.ok()) {
      text = Signatures.verifyClearsigned(in.body(), r.keys(), "InRelease of " + r.describe());
    } else if (in.status() == 404) {
      HttpTransport.Response rel = http.get(URI.create(base + "Release"), Map.of(), Authenticator.NONE, MAX_RELEASE);
      HttpTransport.Response sig = http.get(URI.create(base + "Release.gpg"), Map.of(), Authenticator.NONE, 1 << 20);
      if (!rel.ok() || !sig.ok()) {
        throw new IOException("fetching the Release of " + r.describe() + ": InRelease 404, Release " + rel.status()
            + ", Release.gpg " + sig.status());
      }
      Signatures.verifyDetached(rel.body(), sig.body(), r.keys(), "Release of " + r.describe());
      text = rel.body();
    } else {
      throw new IOException("fetching " + base + "InRelease: HTTP " + in.status());
    }
    Release release = parse(new String(text, StandardCharsets.UTF_8), r);
    String until = release.fields().get("valid-until");
    if (until != null && Instant.now().isAfter(date(until))) {
      throw new IOException("the Release of " + r.describe() + " expired on " + until.trim()
          + " (Valid-Until); the repository or mirror is stale or replayed");
    }
    return release;
  }

  static Release parse(String text, AptRepository r) throws IOException {
    Map<String, String> fields = new Stanzas(new BufferedReader(new StringReader(text)), null).next();
    if (fields == null) {
      throw new IOException("the Release of " + r.describe() + " is empty");
    }
    Map<String, Release.Entry> files = new LinkedHashMap<>();
    for (String line : fields.getOrDefault("sha256", "").split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 3) {
        files.put(f[2], new Release.Entry(f[2], Digest.ofSha256Hex(f[0]), Long.parseLong(f[1])));
      }
    }
    if (files.isEmpty()) {
      throw new IOException("the Release of " + r.describe() + " lists no SHA256 hashes");
    }
    return new Release(fields, files);
  }

  /** Valid-Until and Date use RFC 2822 dates, often with the zone spelt "UTC". */
  static Instant date(String s) {
    String v = s.trim().replaceFirst(" UTC$", " GMT").replaceFirst(" \\+0000$", " GMT");
    return ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
  }

  /** The Packages files to read, best compression first. */
  static List<Release.Entry> indexes(AptRepository r, Release rel, String arch) throws IOException {
    List<Release.Entry> out = new ArrayList<>();
    List<String> dirs = new ArrayList<>();
    if (r.flat()) {
      dirs.add("");
    } else {
      for (String c : r.components()) {
        dirs.add(c + "/binary-" + arch + "/");
      }
    }
    for (String d : dirs) {
      Release.Entry best = null;
      for (String ext : List.of(".xz", ".gz", "")) {
        best = rel.sha256().get(d + "Packages" + ext);
        if (best != null) {
          break;
        }
      }
      if (best == null) {
        throw new IOException("the Release of " + r.describe() + " lists no " + d + "Packages for " + arch);
      }
      out.add(best);
    }
    return out;
  }

  private void fetch(AptRepository r, Release.Entry e) throws IOException {
    downloads.fetch(URI.create(r.releaseBase() + e.path()), e.digest(), e.size(), r.name() + " " + e.path(), null);
  }
}
