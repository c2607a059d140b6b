package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import io.hypervisor.assembler.pkgrepo.Source;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * Streams {@code primary.xml} (decompressed) into resolver candidates: name, EVR, arch, sha256,
 * size, location (honouring {@code xml:base}), Provides (plus the file paths primary lists, which
 * are the ones dependencies name), Requires (rpmlib() features skipped: every rpm has them),
 * Conflicts. Obsoletes are not modelled: a package that obsoletes an installed one replaces it
 * when dnf installs it.
 */
final class PrimaryXml {
  private PrimaryXml() {}

  static void parse(InputStream in, String baseUrl, Source source, Consumer<Candidate> sink, String what)
      throws IOException {
    Map<String, String> names = new HashMap<>();
    try {
      XMLStreamReader r = Xml.reader(in);
      Pkg p = null;
      String list = null;
      StringBuilder text = new StringBuilder();
      while (r.hasNext()) {
        int ev = r.next();
        if (ev == XMLStreamConstants.START_ELEMENT) {
          String el = r.getLocalName();
          text.setLength(0);
          if (el.equals("package")) {
            p = "rpm".equals(r.getAttributeValue(null, "type")) || r.getAttributeValue(null, "type") == null
                ? new Pkg() : null;
          } else if (p == null) {
            continue;
          } else if (el.equals("version") && list == null) {
            p.evr = evr(r);
          } else if (el.equals("checksum")) {
            p.checksumType = r.getAttributeValue(null, "type");
          } else if (el.equals("size")) {
            String s = r.getAttributeValue(null, "package");
            p.size = s == null ? -1 : Long.parseLong(s);
          } else if (el.equals("location")) {
            p.href = r.getAttributeValue(null, "href");
            p.base = r.getAttributeValue("http://www.w3.org/XML/1998/namespace", "base");
          } else if (el.equals("provides") || el.equals("requires") || el.equals("conflicts")) {
            list = el;
          } else if (el.equals("entry") && list != null) {
            entry(r, list, p, names);
          }
        } else if (ev == XMLStreamConstants.CHARACTERS && p != null) {
          text.append(r.getText());
        } else if (ev == XMLStreamConstants.END_ELEMENT && p != null) {
          switch (r.getLocalName()) {
            case "name" -> p.name = intern(names, text.toString().trim());
            case "arch" -> p.arch = intern(names, text.toString().trim());
            case "checksum" -> p.checksum = text.toString().trim();
            case "file" -> p.provides.add(Capability.of(intern(names, text.toString().trim())));
            case "provides", "requires", "conflicts" -> list = null;
            case "package" -> {
              sink.accept(p.candidate(baseUrl, source, what));
              p = null;
            }
            default -> { }
          }
        }
      }
    } catch (XMLStreamException | IllegalArgumentException e) {
      throw new IOException(what + " is not valid primary.xml: " + e.getMessage(), e);
    }
  }

  private static String intern(Map<String, String> names, String s) {
    String prev = names.putIfAbsent(s, s);
    return prev != null ? prev : s;
  }

  /** epoch:version-release from an element's attributes (rel may be absent in dependencies). */
  static String evr(XMLStreamReader r) {
    String e = r.getAttributeValue(null, "epoch");
    String v = r.getAttributeValue(null, "ver");
    String rel = r.getAttributeValue(null, "rel");
    if (v == null) {
      return null;
    }
    return (e == null || e.equals("0") ? "" : e + ":") + v + (rel == null ? "" : "-" + rel);
  }

  private static void entry(XMLStreamReader r, String list, Pkg p, Map<String, String> names) {
    String name = intern(names, r.getAttributeValue(null, "name"));
    String flags = r.getAttributeValue(null, "flags");
    String evr = evr(r);
    if (list.equals("requires")) {
      if (name.startsWith("rpmlib(")) {
        return;
      }
      boolean pre = "1".equals(r.getAttributeValue(null, "pre"));
      List<Dependency> deps = name.startsWith("(") ? RichDependency.parse(name)
          : List.of(RichDependency.simple(flags == null || evr == null ? Capability.of(name)
              : new Capability(name, Capability.Op.parse(flags), intern(names, evr))));
      p.requires.addAll(deps);
      if (pre) {
        p.preRequires.addAll(deps);
      }
      return;
    }
    Capability c = flags == null || evr == null ? Capability.of(name)
        : new Capability(name, Capability.Op.parse(flags), intern(names, evr));
    switch (list) {
      case "provides" -> p.provides.add(c);
      default -> p.conflicts.add(c);
    }
  }

  /** A package being read. */
  private static final class Pkg {
    String name;
    String arch;
    String evr;
    String checksumType;
    String checksum;
    long size = -1;
    String href;
    String base;
    final List<Capability> provides = new ArrayList<>();
    final List<Dependency> requires = new ArrayList<>();
    final List<Dependency> preRequires = new ArrayList<>();
    final List<Capability> conflicts = new ArrayList<>();

    Candidate candidate(String baseUrl, Source source, String what) {
      if (name == null || evr == null || href == null || checksum == null || size < 0) {
        throw new IllegalArgumentException("package " + name + " lacks its version, location, checksum or size");
      }
      if (!"sha256".equalsIgnoreCase(checksumType)) {
        throw new IllegalArgumentException("package " + name + " has a " + checksumType
            + " checksum; only sha256 package checksums are accepted");
      }
      String b = base != null ? (base.endsWith("/") ? base : base + "/") : baseUrl;
      return new Candidate(name, evr, arch, requires, preRequires, provides, conflicts, b + href, size,
          checksum.toLowerCase(java.util.Locale.ROOT), source);
    }
  }
}
