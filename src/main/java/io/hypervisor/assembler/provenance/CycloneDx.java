package io.hypervisor.assembler.provenance;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The SBOM in CycloneDX 1.6 JSON: the node image as {@code metadata.component} (an operating
 * system, with its qcow2 sha256), the base distribution, every package as a library with its purl
 * (and sha256 and download URL when the build installed it), every seeded image as a container
 * (purl by digest, platform manifest in properties), and the dependency tree image → distribution
 * and images, distribution → packages. The serial number is a UUIDv5 of the image's sha256.
 */
final class CycloneDx {
  static final String MEDIA_TYPE = "application/vnd.cyclonedx+json";

  private CycloneDx() {}

  static byte[] write(Inventory inv) {
    ObjectNode bom = Json.object();
    bom.put("bomFormat", "CycloneDX");
    bom.put("specVersion", "1.6");
    bom.put("serialNumber", "urn:uuid:" + Uuids.v5(Uuids.URL, "assemble:cyclonedx:" + inv.root().sha256()));
    bom.put("version", 1);
    ObjectNode meta = bom.putObject("metadata");
    meta.put("timestamp", inv.epoch());
    ObjectNode tool = meta.putObject("tools").putArray("components").addObject();
    tool.put("type", "application");
    tool.put("name", "assemble");
    tool.put("version", inv.tool());
    ObjectNode root = meta.putObject("component");
    root.put("type", "operating-system");
    root.put("bom-ref", "image");
    root.put("name", inv.root().name());
    root.put("version", inv.root().version());
    root.put("description", "Kubernetes " + inv.root().version() + " " + inv.root().role() + " node image ("
        + inv.root().format() + ")");
    hash(root, inv.root().sha256());
    ArrayNode rp = root.putArray("properties");
    property(rp, "assemble:file", inv.root().file());
    property(rp, "assemble:size", Long.toString(inv.root().size()));
    property(rp, "assemble:virtual-size", Long.toString(inv.root().virtualSize()));
    property(rp, "assemble:kubernetes-role", inv.root().role());

    ArrayNode comps = bom.putArray("components");
    ObjectNode os = comps.addObject();
    os.put("type", "operating-system");
    os.put("bom-ref", inv.os().ref());
    os.put("name", inv.os().id());
    os.put("version", inv.os().version());
    for (Inventory.Pkg p : inv.packages()) {
      ObjectNode c = component(comps, "library", p.purl(), p.name(), p.version());
      if (p.sha256() != null) {
        hash(c, p.sha256());
      }
      if (p.url() != null) {
        c.putArray("externalReferences").addObject().put("type", "distribution").put("url", p.url());
      }
      ArrayNode props = c.putArray("properties");
      property(props, "assemble:origin", p.fromBase() ? "base image" : "installed by the build");
      if (p.repository() != null) {
        property(props, "assemble:repository", p.repository());
      }
    }
    for (Inventory.Container i : inv.containers()) {
      ObjectNode c = component(comps, "container", i.purl(), i.name(), i.digest());
      hash(c, i.digest().substring(i.digest().indexOf(':') + 1));
      ArrayNode props = c.putArray("properties");
      property(props, "assemble:reference", i.ref());
      property(props, "assemble:media-type", i.mediaType());
      property(props, "assemble:platform", i.platform());
      property(props, "assemble:platform-manifest", i.manifestDigest());
      property(props, "assemble:config", i.configDigest());
    }
    ArrayNode deps = bom.putArray("dependencies");
    ObjectNode top = deps.addObject();
    top.put("ref", "image");
    ArrayNode topOn = top.putArray("dependsOn");
    topOn.add(inv.os().ref());
    inv.containers().forEach(i -> topOn.add(i.purl()));
    ObjectNode osDeps = deps.addObject();
    osDeps.put("ref", inv.os().ref());
    ArrayNode osOn = osDeps.putArray("dependsOn");
    inv.packages().forEach(p -> osOn.add(p.purl()));
    return Json.bytes(bom);
  }

  private static void hash(ObjectNode c, String sha256) {
    c.putArray("hashes").addObject().put("alg", "SHA-256").put("content", sha256);
  }

  /** A component named by its purl (which is also its bom-ref, unique within the document). */
  private static ObjectNode component(ArrayNode comps, String type, String purl, String name, String version) {
    ObjectNode c = comps.addObject();
    c.put("type", type);
    c.put("bom-ref", purl);
    c.put("name", name);
    c.put("version", version);
    c.put("purl", purl);
    return c;
  }

  private static void property(ArrayNode props, String name, String value) {
    if (value != null) {
      props.addObject().put("name", name).put("value", value);
    }
  }
}
