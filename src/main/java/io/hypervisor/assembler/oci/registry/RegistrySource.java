package io.hypervisor.assembler.oci.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.DigestMismatchException;
import io.hypervisor.assembler.content.Ingest;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpException;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.oci.ImageException;
import io.hypervisor.assembler.oci.ImageSource;
import io.hypervisor.assembler.oci.Wire;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Registries as an image source, following the distribution spec's pull flow: a tag is resolved
 * with HEAD (GET when the registry omits the digest) and the full Accept list; manifests are
 * fetched by digest, capped at 4 MiB and hashed (they must match the reference and any
 * Docker-Content-Digest); blobs stream into the content store with resume. Each registry's hosts
 * (mirrors, then the server) are tried in order, only for what they may be asked (resolve for
 * tags, pull for digests); mirrors get {@code ?ns=<registry>}.
 */
public final class RegistrySource implements ImageSource {
  static final long MAX_MANIFEST = 4L << 20;
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HostsConfig hosts;
  private final HttpTransport http;
  private final RegistryAuthenticator auth;

  public RegistrySource(HostsConfig hosts, CredentialStore credentials, HttpSettings settings, EventSink events,
      Map<String, String> environment) {
    this.hosts = hosts;
    this.auth = new RegistryAuthenticator(credentials);
    this.http = new HttpTransport(settings, events, environment, hosts::tls);
    auth.transport(http);
  }

  @Override
  public String describe() {
    return "registry";
  }

  private static final Map<String, List<String>> ACCEPT = Map.of("Accept", List.of(MediaType.MANIFEST_ACCEPT));

  URI url(RegistryHost h, ImageRef ref, String kind, String reference) {
    String u = h.apiBase() + "/" + ref.repository() + "/" + kind + "/" + reference;
    if (!h.upstream()) {
      u += "?ns=" + URLEncoder.encode(ref.registry(), StandardCharsets.UTF_8);
    }
    return URI.create(u);
  }

  private Map<String, List<String>> headers(RegistryHost h, Map<String, List<String>> extra) {
    Map<String, List<String>> m = new LinkedHashMap<>(h.headers());
    m.putAll(extra);
    return m;
  }

  @Override
  public Descriptor resolve(ImageRef ref) throws IOException {
    List<String> failures = new ArrayList<>();
    String capability = ref.digest() != null ? "pull" : "resolve";
    for (RegistryHost h : hosts.hosts(ref.registry())) {
      if (!h.can(capability)) {
        continue;
      }
      try {
        return resolveAt(h, ref);
      } catch (ImageException | DigestMismatchException e) {
        throw e;
      } catch (IOException e) {
        failures.add(h.url() + ": " + e.getMessage());
      }
    }
    throw new IOException("resolving " + ref + ": " + (failures.isEmpty()
        ? "no configured host may resolve it" : String.join("; ", failures)));
  }

  private Descriptor resolveAt(RegistryHost h, ImageRef ref) throws IOException {
    String reference = ref.manifestReference();
    URI uri = url(h, ref, "manifests", reference);
    if (ref.digest() == null) {
      // A failed HEAD has no body to say why; the GET below carries the registry's error.
      HttpTransport.Response head = http.send("HEAD", uri, headers(h, ACCEPT), auth, 0);
      if (head.ok()) {
        String digest = head.header("Docker-Content-Digest");
        String type = contentType(head);
        String length = head.header("Content-Length");
        if (digest != null && type != null && length != null) {
          rejectSchema1(ref, type);
          return new Descriptor(type, Digest.parse(digest), Long.parseLong(length), Map.of(), null);
        }
      }
    }
    // No usable HEAD answer (older registries omit Docker-Content-Digest): GET and hash the body.
    HttpTransport.Response get = http.get(uri, headers(h, ACCEPT), auth, MAX_MANIFEST);
    if (!get.ok()) {
      throw new IOException(describeError(get, ref));
    }
    Digest actual = Digest.sha256(get.body());
    check(ref, get, actual);
    String type = contentType(get);
    String declared = Wire.sniffMediaType(get.body());
    if (type == null || type.equals("application/json") || type.equals("text/plain")) {
      type = declared;
    }
    if (type == null) {
      throw new ImageException(ref + " at " + h.url() + ": cannot tell what kind of manifest this is");
    }
    rejectSchema1(ref, type);
    if (declared != null && !declared.equals(type) && !MediaType.isSchema1(declared)) {
      throw new ImageException(ref + " at " + h.url() + ": Content-Type " + type + " disagrees with the manifest's "
          + "mediaType " + declared);
    }
    return new Descriptor(type, actual, get.body().length, Map.of(), null);
  }

  /** The digest must be what the reference pins and what the registry says it is. */
  private static void check(ImageRef ref, HttpTransport.Response r, Digest actual) throws IOException {
    String header = r.header("Docker-Content-Digest");
    if (header != null && !Digest.parse(header).equals(actual)) {
      throw new DigestMismatchException("fetching " + ref + ": Docker-Content-Digest " + header
          + " but the body hashes to " + actual, Digest.parse(header), actual);
    }
    if (ref.digest() != null && !ref.digest().equals(actual)) {
      throw new DigestMismatchException("fetching " + ref + ": digest mismatch (got " + actual + ")", ref.digest(), actual);
    }
  }

  private static void rejectSchema1(ImageRef ref, String type) throws ImageException {
    if (MediaType.isSchema1(type)) {
      throw new ImageException(ref + " is served as a Docker schema 1 manifest, which is no longer supported "
          + "(containerd 2 refuses it too); publish it with schema 2 or OCI manifests");
    }
  }

  private static String contentType(HttpTransport.Response r) {
    String t = r.header("Content-Type");
    return t == null ? null : t.replaceFirst(";.*$", "").trim();
  }

  /** A registry error body (errors[].code/message) or the status, for messages. */
  static String describeError(HttpTransport.Response r, ImageRef ref) {
    String detail = "";
    try {
      JsonNode j = JSON.readTree(r.body());
      if (j != null && j.has("errors") && j.get("errors").size() > 0) {
        JsonNode e = j.get("errors").get(0);
        detail = " " + e.path("code").asText("") + ": " + e.path("message").asText("");
      }
    } catch (IOException ignored) {
      // not JSON (a proxy's HTML page): the status says enough
    }
    return r.status() + detail;
  }

  @Override
  public void fetch(ImageRef ref, Descriptor blob, ContentStore store) throws IOException {
    boolean manifest = MediaType.isIndex(blob.mediaType()) || MediaType.isManifest(blob.mediaType());
    List<String> failures = new ArrayList<>();
    for (RegistryHost h : hosts.hosts(ref.registry())) {
      if (!h.can("pull")) {
        continue;
      }
      try {
        if (manifest) {
          fetchManifest(h, ref, blob, store);
        } else {
          fetchBlob(h, ref, blob, store);
        }
        return;
      } catch (DigestMismatchException e) {
        throw e;
      } catch (IOException e) {
        failures.add(h.url() + ": " + e.getMessage());
      }
    }
    throw new IOException("pulling " + (manifest ? "manifest " : "blob ") + blob.digest() + " of " + ref + ": "
        + String.join("; ", failures));
  }

  private void fetchManifest(RegistryHost h, ImageRef ref, Descriptor d, ContentStore store) throws IOException {
    if (d.size() > MAX_MANIFEST) {
      throw new ImageException(ref + ": manifest " + d.digest() + " claims " + d.size() + " bytes (limit 4 MiB)");
    }
    HttpTransport.Response r = http.get(url(h, ref, "manifests", d.digest().toString()), headers(h, ACCEPT), auth,
        MAX_MANIFEST);
    if (!r.ok()) {
      throw new IOException(describeError(r, ref));
    }
    Digest actual = Digest.sha256(r.body());
    check(ref.withDigest(d.digest()), r, actual);
    store.put(d.digest(), r.body());
  }

  private void fetchBlob(RegistryHost h, ImageRef ref, Descriptor d, ContentStore store) throws IOException {
    for (int attempt = 0; ; attempt++) {
      try (Ingest ingest = store.ingest(d.digest(), d.size())) {
        if (ingest == null) {
          return;
        }
        boolean resumed = ingest.offset() > 0;
        String label = shortName(ref) + " " + d.digest().shortHex();
        http.download(url(h, ref, "blobs", d.digest().toString()), h.headers(), auth, HttpTransport.BodySink.of(ingest::offset, ingest::write, ingest::restart),
            d.size(), label);
        try {
          ingest.commit();
          return;
        } catch (DigestMismatchException e) {
          // A partial file from an earlier run may itself be bad: one more try from nothing.
          if (!resumed || attempt > 0) {
            throw new DigestMismatchException("pulling blob " + d.digest() + " of " + ref + " from " + h.url()
                + ": " + (e.actual() == null ? e.getMessage() : "digest mismatch (got " + e.actual() + ")"),
                e.expected(), e.actual());
          }
        }
      } catch (HttpException e) {
        throw new IOException(e.getMessage() + (e.status() == 404 ? " (blob unknown)" : ""), e);
      }
    }
  }

  static String shortName(ImageRef ref) {
    String r = ref.repository();
    return r.substring(r.lastIndexOf('/') + 1) + (ref.tag() == null ? "" : ":" + ref.tag());
  }
}
