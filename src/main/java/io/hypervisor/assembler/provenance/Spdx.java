package io.hypervisor.assembler.provenance;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hypervisor.assembler.model.Digest;
import java.nio.charset.StandardCharsets;

/**
 * The SBOM in SPDX 2.3 JSON, the same inventory as the CycloneDX one: the document describes the
 * node image (purpose OPERATING_SYSTEM, its qcow2 checksum), which CONTAINS the distribution and
 * every seeded image (CONTAINER); the distribution CONTAINS every package (LIBRARY, with purl,
 * and checksum and download location when the build installed it). Identifiers come from purls,
 * the namespace from a UUIDv5 of the image's sha256, so the same build writes the same bytes.
 */
final class Spdx {
  static final String MEDIA_TYPE = "application/spdx+json";

  private Spdx() {}

  static byte[] write(Inventory inv) {
    ObjectNode doc = Json.object();
    doc.put("spdxVersion", "SPDX-2.3");
    doc.put("dataLicense", "CC0-1.0");
    doc.put("SPDXID", "SPDXRef-DOCUMENT");
    doc.put("name", inv.root().name());
    doc.put("documentNamespace", "https://spdx.hypervisor.io/assemble/" + inv.root().name() + "-"
        + Uuids.v5(Uuids.URL, "assemble:spdx:" + inv.root().sha256()));
    ObjectNode ci = doc.putObject("creationInfo");
    ci.put("created", inv.epoch());
    ci.putArray("creators").add("Tool: assemble-" + inv.tool());
    doc.putArray("documentDescribes").add("SPDXRef-image");
    ArrayNode pkgs = doc.putArray("packages");
    ArrayNode rel = Json.array();

    ObjectNode root = pkg(pkgs, "SPDXRef-image", inv.root().name(), inv.root().version(), "OPERATING_SYSTEM");
    root.put("packageFileName", inv.root().file());
    checksum(root, inv.root().sha256());
    root.put("description", "Kubernetes " + inv.root().version() + " " + inv.root().role() + " node image ("
        + inv.root().format() + ")");
    relate(rel, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-image");

    String osId = "SPDXRef-os-" + inv.os().id() + "-" + inv.os().version();
    pkg(pkgs, osId, inv.os().id(), inv.os().version(), "OPERATING_SYSTEM");
    relate(rel, "SPDXRef-image", "CONTAINS", osId);
    for (Inventory.Pkg p : inv.packages()) {
      String id = id("package", p.purl());
      ObjectNode n = pkg(pkgs, id, p.name(), p.version(), "LIBRARY");
      if (p.url() != null) {
        n.put("downloadLocation", p.url());
      }
      if (p.sha256() != null) {
        checksum(n, p.sha256());
      }
      purl(n, p.purl());
      n.put("comment", p.fromBase() ? "in the base image before the build"
          : "installed by the build from repository " + p.repository());
      relate(rel, osId, "CONTAINS", id);
    }
    for (Inventory.Container i : inv.containers()) {
      String id = id("image", i.purl());
      ObjectNode n = pkg(pkgs, id, i.name(), i.digest(), "CONTAINER");
      checksum(n, i.digest().substring(i.digest().indexOf(':') + 1));
      purl(n, i.purl());
      n.put("comment", i.ref() + " (" + i.mediaType() + "); platform " + i.platform() + " manifest "
          + i.manifestDigest());
      relate(rel, "SPDXRef-image", "CONTAINS", id);
    }
    doc.set("relationships", rel);
    return Json.bytes(doc);
  }

  /** SPDXRef-<kind>-<first 16 hex of the purl's sha256>: stable, and within the ID alphabet. */
  static String id(String kind, String purl) {
    return "SPDXRef-" + kind + "-" + Digest.sha256(purl.getBytes(StandardCharsets.UTF_8)).encoded().substring(0, 16);
  }

  private static ObjectNode pkg(ArrayNode pkgs, String id, String name, String version, String purpose) {
    ObjectNode n = pkgs.addObject();
    n.put("SPDXID", id);
    n.put("name", name);
    n.put("versionInfo", version);
    n.put("downloadLocation", "NOASSERTION");
    n.put("filesAnalyzed", false);
    n.put("primaryPackagePurpose", purpose);
    n.put("licenseConcluded", "NOASSERTION");
    n.put("licenseDeclared", "NOASSERTION");
    n.put("copyrightText", "NOASSERTION");
    return n;
  }

  private static void checksum(ObjectNode n, String sha256) {
    n.putArray("checksums").addObject().put("algorithm", "SHA256").put("checksumValue", sha256);
  }

  private static void purl(ObjectNode n, String purl) {
    n.putArray("externalRefs").addObject().put("referenceCategory", "PACKAGE-MANAGER").put("referenceType", "purl")
        .put("referenceLocator", purl);
  }

  private static void relate(ArrayNode rel, String from, String type, String to) {
    rel.addObject().put("spdxElementId", from).put("relationshipType", type).put("relatedSpdxElement", to);
  }
}
