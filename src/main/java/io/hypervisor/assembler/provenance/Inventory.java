package io.hypervisor.assembler.provenance;

import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.plan.BuildRecord;
import io.hypervisor.assembler.plan.Lock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a node image holds, as both SBOM formats list it: the image itself, the distribution it
 * is, every package (installed by the build from the lock, with its file's sha256 and URL, or
 * already in the base image), and every seeded container image; sorted, so the same build always
 * lists the same things in the same order.
 */
record Inventory(Root root, Os os, List<Pkg> packages, List<Container> containers, String epoch, String tool) {

  /** The image: its tag, Kubernetes version and role, file, sha256 and sizes. */
  record Root(String name, String version, String role, String file, String sha256, long size, long virtualSize,
      String format) {}

  /** The base distribution ({@code debian}, {@code 12}) and its reference id. */
  record Os(String id, String version, String ref) {}

  /** A package; {@code sha256} and {@code url} only for the build's own, {@code fromBase} for the base's. */
  record Pkg(String name, String version, String arch, String purl, String sha256, String url, String repository,
      boolean fromBase) {}

  /** A seeded image: reference, short name, pinned digest, purl, platform and its manifest. */
  record Container(String ref, String name, String digest, String purl, String mediaType, String platform,
      String manifestDigest, String configDigest) {}

  static Inventory of(BuildRecord r) {
    String distro = r.plan().base().distro();
    int dash = distro.lastIndexOf('-');
    Os os = new Os(distro.substring(0, dash), distro.substring(dash + 1), "os:" + distro.substring(0, dash) + "@"
        + distro.substring(dash + 1));
    String family = r.plan().base().family();
    List<Pkg> pkgs = new ArrayList<>();
    Set<String> installed = new TreeSet<>();
    for (Lock.Package p : r.lock().packages()) {
      installed.add(p.name());
      pkgs.add(new Pkg(p.name(), p.version(), p.architecture(), Purls.pkg(family, os.id(), distro, p.name(), p.version(),
          p.architecture()), p.sha256(), p.url(), p.repository(), false));
    }
    for (BuildRecord.BasePackage p : r.basePackages()) {
      // a package the build replaced or upgraded is listed once, as the build installed it
      if (!installed.contains(p.name())) {
        pkgs.add(new Pkg(p.name(), p.version(), p.arch(), Purls.pkg(family, os.id(), distro, p.name(), p.version(),
            p.arch()), null, null, null, true));
      }
    }
    pkgs.sort(Comparator.comparing(Pkg::purl));
    List<Container> images = new ArrayList<>();
    for (BuildRecord.SeededImage i : r.images()) {
      ImageRef ref = ImageRef.parse(i.ref());
      String name = ref.repository().substring(ref.repository().lastIndexOf('/') + 1);
      images.add(new Container(i.ref(), name, i.digest(), Purls.oci(ref, i.digest()), i.mediaType(), i.platform(),
          i.manifestDigest(), i.configDigest()));
    }
    images.sort(Comparator.comparing(Container::ref));
    BuildRecord.Artifact a = r.image();
    Root root = new Root(r.plan().catalogue().tag(), r.plan().kubernetes().version(), r.plan().kubernetes().role(),
        a.file(), a.sha256(), a.size(), a.virtualSize(), a.format());
    return new Inventory(root, os, pkgs, images, Times.iso(r.epoch()), r.tool());
  }
}
