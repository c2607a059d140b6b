package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.Authenticator;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.pkgrepo.Compression;
import io.hypervisor.assembler.pkgrepo.Downloads;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.pkgrepo.Universe;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * Reads rpm-md repositories as dnf does, trusting nothing unverified: repomd.xml (with its
 * detached signature when the repository is configured so), primary.xml into the content store
 * under the checksum repomd.xml names, then parsed into the universe. A repository with only a
 * mirror list gets its base URL from the list (plain lines, or a metalink's repomd.xml URLs).
 */
public final class RpmIndexer {
  private static final long MAX_REPOMD = 16L << 20;
  private final HttpTransport http;
  private final Downloads downloads;
  private final EventSink events;

  public RpmIndexer(HttpTransport http, Downloads downloads, EventSink events) {
    this.http = http;
    this.downloads = downloads;
    this.events = events;
  }

  /** The architectures an rpm target installs: its own and noarch (multilib i686 is not wanted). */
  public static Set<String> arches(String basearch) {
    return Set.of(basearch, "noarch");
  }

  /** Fetches and verifies every repository's primary index and parses it into one universe. */
  public Universe index(List<RpmRepository> repos, String basearch) throws IOException {
    Universe u = new Universe(RpmVersion.SCHEME, arches(basearch));
    for (RpmRepository r : repos) {
      try (EventSink.Step step = events.step("index " + r.name(), r.describe())) {
        int before = u.size();
        String base = baseUrl(r);
        RepoMd md = repomd(r, base);
        RepoMd.Data primary = md.data().get("primary");
        if (primary == null) {
          throw new IOException("the repomd.xml of " + r.describe() + " lists no primary metadata"
              + (md.data().containsKey("primary_zck") ? " (only zchunk, which is not supported)" : ""));
        }
        downloads.fetch(URI.create(base + primary.href()), primary.checksum(), primary.size(),
            r.name() + " " + primary.href(), null);
        try (InputStream in = Compression.open(downloads.store().open(primary.checksum()), primary.href(),
            downloads.store().size(primary.checksum()))) {
          PrimaryXml.parse(in, base, r.source(), u::add, "the primary.xml of " + r.describe());
        }
        step.ok((u.size() - before) + " packages");
      }
    }
    return u;
  }

  /** The verified repomd.xml of a repository at a base URL. */
  public RepoMd repomd(RpmRepository r, String base) throws IOException {
    URI uri = URI.create(base + "repodata/repomd.xml");
    HttpTransport.Response md = http.get(uri, Map.of(), Authenticator.NONE, MAX_REPOMD);
    if (!md.ok()) {
      throw new IOException("fetching " + HttpTransport.redact(uri) + ": HTTP " + md.status());
    }
    if (r.metadataSignature() != RpmRepository.MetadataSignature.OFF) {
      HttpTransport.Response asc = http.get(URI.create(uri + ".asc"), Map.of(), Authenticator.NONE, 1 << 20);
      if (asc.ok()) {
        Signatures.verifyDetached(md.body(), asc.body(), r.keys(), "repomd.xml of " + r.describe());
      } else if (r.metadataSignature() == RpmRepository.MetadataSignature.REQUIRED) {
        throw new IOException("fetching the signature of the repomd.xml of " + r.describe() + ": HTTP "
            + asc.status() + "; this repository's metadata must be signed (repo_gpgcheck)");
      }
    }
    return RepoMd.parse(md.body(), "the repomd.xml of " + r.describe());
  }

  /** The first base URL, or the first one a mirror list names. */
  String baseUrl(RpmRepository r) throws IOException {
    if (!r.baseUrls().isEmpty()) {
      return r.baseUrls().get(0);
    }
    URI uri = URI.create(r.mirrorList());
    HttpTransport.Response list = http.get(uri, Map.of(), Authenticator.NONE, 4 << 20);
    if (!list.ok()) {
      throw new IOException("fetching the mirror list of " + r.describe() + ": HTTP " + list.status());
    }
    List<String> urls = mirrors(list.body());
    if (urls.isEmpty()) {
      throw new IOException("the mirror list of " + r.describe() + " names no mirror");
    }
    return urls.get(0);
  }

  /** Base URLs from a mirror list: plain lines, or a metalink's {@code <url>…/repodata/repomd.xml</url>} entries. */
  static List<String> mirrors(byte[] body) throws IOException {
    String text = new String(body, StandardCharsets.UTF_8).trim();
    List<String> out = new ArrayList<>();
    if (text.startsWith("<")) {
      try {
        XMLStreamReader r = Xml.reader(new ByteArrayInputStream(body));
        boolean inUrl = false;
        StringBuilder b = new StringBuilder();
        while (r.hasNext()) {
          int ev = r.next();
          if (ev == XMLStreamConstants.START_ELEMENT && r.getLocalName().equals("url")) {
            String protocol = r.getAttributeValue(null, "protocol");
            inUrl = protocol == null || protocol.startsWith("http");
            b.setLength(0);
          } else if (ev == XMLStreamConstants.CHARACTERS && inUrl) {
            b.append(r.getText());
          } else if (ev == XMLStreamConstants.END_ELEMENT && r.getLocalName().equals("url") && inUrl) {
            out.add(b.toString().trim().replaceFirst("repodata/repomd\\.xml$", ""));
            inUrl = false;
          }
        }
      } catch (XMLStreamException e) {
        throw new IOException("the metalink is not valid XML: " + e.getMessage(), e);
      }
    } else {
      for (String l : text.split("\n")) {
        String t = l.trim();
        if (!t.isEmpty() && !t.startsWith("#")) {
          out.add(t.endsWith("/") ? t : t + "/");
        }
      }
    }
    return out;
  }
}
