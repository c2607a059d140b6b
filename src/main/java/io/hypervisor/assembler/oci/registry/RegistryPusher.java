package io.hypervisor.assembler.oci.registry;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.http.HttpTransport.Body;
import io.hypervisor.assembler.http.HttpTransport.Response;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The distribution spec's push flow against one repository, through the registry's own server
 * (the first host allowed to push; mirrors only serve pulls): blob existence (HEAD), cross-repository
 * mount, monolithic upload for small blobs and chunked upload (PATCH with Content-Range) for large
 * ones, resumed from the registry's own Range after a failure, manifest PUT with the digest
 * checked, and the referrers API where the registry has it. Tokens are asked for with push scope;
 * credentials, TLS and proxies as for pulls.
 */
public final class RegistryPusher {
  /** Blobs up to this size go in one PUT; larger ones in chunks of this size. */
  public static final long CHUNK = 16L << 20;

  private static final Pattern RANGE = Pattern.compile("(?:bytes=)?(\\d+)-(\\d+)");
  private static final long MAX_ANSWER = 4L << 20;

  private final RegistryHost host;
  private final ImageRef repo;
  private final HttpTransport http;
  private final RegistryAuthenticator auth;
  private final EventSink events;

  /** A pusher to {@code repo} (registry and repository; tag and digest ignored). */
  public RegistryPusher(HostsConfig hosts, CredentialStore credentials, HttpSettings settings, EventSink events,
      Map<String, String> environment, ImageRef repo) throws IOException {
    this.host = hosts.hosts(repo.registry()).stream().filter(h -> h.can("push")).findFirst()
        .orElseThrow(() -> new IOException("no host of " + repo.registry() + " may be pushed to (hosts.toml "
            + "capabilities lack \"push\")"));
    this.repo = repo;
    this.auth = new RegistryAuthenticator(credentials, true);
    this.http = new HttpTransport(settings, events, environment, hosts::tls);
    auth.transport(http);
    this.events = events;
  }

  /** Where the pushes go, for messages. */
  public String describe() {
    return host.url() + "/" + repo.repository();
  }

  private URI api(String rest) {
    return URI.create(host.apiBase() + "/" + repo.repository() + "/" + rest);
  }

  private Map<String, List<String>> headers(Map<String, List<String>> extra) {
    Map<String, List<String>> m = new java.util.LinkedHashMap<>(host.headers());
    m.putAll(extra);
    return m;
  }

  /** Whether the repository already has the blob. */
  public boolean exists(Digest d) throws IOException {
    Response r = http.send("HEAD", api("blobs/" + d), headers(Map.of()), auth, 0);
    if (r.status() == 200) {
      return true;
    }
    if (r.status() == 404) {
      return false;
    }
    throw refused("checking blob " + d.encoded().substring(0, 12), r);
  }

  /** Mounts a blob from another repository of the same registry; false when the registry would not. */
  public boolean mount(Digest d, String fromRepository) throws IOException {
    Response r = http.send("POST", api("blobs/uploads/?mount=" + enc(d.toString()) + "&from=" + enc(fromRepository)),
        headers(Map.of()), new byte[0], auth, MAX_ANSWER);
    if (r.status() == 201) {
      return true;
    }
    if (r.status() == 202) {
      cancel(location(r));
      return false;
    }
    throw refused("mounting blob " + d.encoded().substring(0, 12) + " from " + fromRepository, r);
  }

  /**
   * Uploads {@code size} bytes of {@code file} as blob {@code d}: one PUT up to {@link #CHUNK},
   * else PATCH chunks, each failure resumed from what the registry says it has.
   */
  public void upload(Digest d, Path file, long size, String label) throws IOException {
    long[] done = {0};
    java.util.function.LongConsumer p = n -> {
      done[0] += n;
      events.progress(label, Math.min(done[0], size), size, "bytes");
    };
    URI at = location(http.send("POST", api("blobs/uploads/"), headers(Map.of()), new byte[0], auth, MAX_ANSWER));
    if (size <= CHUNK) {
      put(at, d, Body.ofFile(file, 0, size, p));
      return;
    }
    long sent = 0;
    int failures = 0;
    while (sent < size) {
      long n = Math.min(CHUNK, size - sent);
      long from = sent;
      Response r;
      try {
        r = http.send("PATCH", at, headers(Map.of("Content-Type", List.of("application/octet-stream"),
            "Content-Range", List.of(from + "-" + (from + n - 1)))), Body.ofFile(file, from, n, p), auth,
            MAX_ANSWER);
      } catch (IOException e) {
        if (++failures > 5) {
          throw e;
        }
        long have = status(at);
        events.warn("upload of " + label + " interrupted at " + from + " bytes (" + e.getMessage()
            + "); the registry has " + have + ", resuming from there");
        sent = have;
        done[0] = have;
        continue;
      }
      if (r.status() != 202) {
        if (r.status() == 416 && ++failures <= 5) {
          sent = status(at); // the registry disagrees on the offset: continue from its own
          continue;
        }
        throw refused("uploading " + label + " (chunk at " + from + ")", r);
      }
      at = location(r);
      sent = from + n;
      long confirmed = end(r);
      if (confirmed >= 0 && confirmed != sent) {
        sent = confirmed; // resend from where the registry stands
      }
    }
    put(at, d, Body.of(new byte[0]));
  }

  /** Uploads a small blob held in memory (a config, an SBOM). */
  public void upload(Digest d, byte[] bytes) throws IOException {
    URI at = location(http.send("POST", api("blobs/uploads/"), headers(Map.of()), new byte[0], auth, MAX_ANSWER));
    put(at, d, Body.of(bytes));
  }

  private void put(URI at, Digest d, Body body) throws IOException {
    String sep = at.getRawQuery() == null ? "?" : "&";
    Response r = http.send("PUT", URI.create(at + sep + "digest=" + enc(d.toString())),
        headers(Map.of("Content-Type", List.of("application/octet-stream"))), body, auth, MAX_ANSWER);
    if (r.status() != 201) {
      throw refused("completing the upload of blob " + d.encoded().substring(0, 12), r);
    }
  }

  /** How many bytes an upload session holds (its Range), after a failure. */
  private long status(URI at) throws IOException {
    Response r = http.send("GET", at, headers(Map.of()), auth, MAX_ANSWER);
    if (r.status() != 204 && r.status() != 200) {
      throw refused("asking how much of an upload arrived", r);
    }
    long end = end(r);
    return end < 0 ? 0 : end;
  }

  /** One past the last byte of the Range header (0-N means N+1 bytes), or -1 without one. */
  private static long end(Response r) {
    String range = r.header("Range");
    if (range == null) {
      return -1;
    }
    Matcher m = RANGE.matcher(range.trim());
    return m.matches() ? Long.parseLong(m.group(2)) + 1 : -1;
  }

  private void cancel(URI at) {
    try {
      http.send("DELETE", at, headers(Map.of()), auth, MAX_ANSWER);
    } catch (IOException e) {
      events.debug("could not cancel the upload session " + HttpTransport.redact(at) + ": " + e.getMessage());
    }
  }

  private URI location(Response r) throws IOException {
    if (r.status() != 202) {
      throw refused("starting an upload", r);
    }
    String loc = r.header("Location");
    if (loc == null) {
      throw new IOException("the registry started an upload without a Location");
    }
    URI u = r.uri().resolve(loc);
    // Registries may hand uploads to another host (storage, a front end); credentials stay with
    // their own origin (tokens are per origin), and an https registry may not downgrade the upload.
    if ("https".equals(host.url().getScheme()) && !"https".equals(u.getScheme())) {
      throw new IOException("the registry sent the upload to " + u.getScheme() + ", not https; refusing to send the "
          + "image in the clear");
    }
    return u;
  }

  /** PUTs a manifest under {@code reference} (a digest or a tag); checks the digest the registry computed. */
  public void putManifest(String reference, String mediaType, byte[] body) throws IOException {
    Response r = http.send("PUT", api("manifests/" + reference), headers(Map.of("Content-Type", List.of(mediaType))),
        body, auth, MAX_ANSWER);
    if (r.status() != 201) {
      throw refused("putting the manifest " + reference, r);
    }
    String said = r.header("Docker-Content-Digest");
    Digest mine = Digest.sha256(body);
    if (said != null && !said.equals(mine.toString())) {
      throw new IOException("the registry stored manifest " + reference + " as " + said + ", not " + mine);
    }
  }

  /** A manifest's bytes, or null when the repository has none under {@code reference}. */
  public byte[] manifest(String reference, String accept) throws IOException {
    Response r = http.send("GET", api("manifests/" + reference), headers(Map.of("Accept", List.of(accept))), auth,
        MAX_ANSWER);
    if (r.status() == 404) {
      return null;
    }
    if (r.status() != 200) {
      throw refused("reading the manifest " + reference, r);
    }
    return r.body();
  }

  /**
   * The referrers index of {@code subject} from the referrers API, or null when the registry has
   * no such API (CNCF distribution 2.8 and 3.x answer 404): then clients keep a tag-schema index.
   */
  public byte[] referrers(Digest subject) throws IOException {
    Response r = http.send("GET", api("referrers/" + subject), headers(Map.of("Accept",
        List.of("application/vnd.oci.image.index.v1+json"))), auth, MAX_ANSWER);
    if (r.status() == 200 && String.valueOf(r.header("Content-Type")).startsWith("application/vnd.oci.image.index")) {
      return r.body();
    }
    return null;
  }

  private IOException refused(String what, Response r) {
    String body = new String(r.body(), StandardCharsets.UTF_8).strip();
    if (body.length() > 300) {
      body = body.substring(0, 300) + "…";
    }
    String hint = switch (r.status()) {
      case 401 -> " (not authorized: credentials for this registry?)";
      case 403 -> " (forbidden: these credentials may not push here)";
      case 413 -> " (too large for the registry or a proxy in front of it)";
      default -> "";
    };
    return new io.hypervisor.assembler.http.HttpException(what + " at " + describe() + ": " + r.status() + hint
        + (body.isEmpty() ? "" : ": " + body), r.status(), null);
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
