package io.hypervisor.assembler.plan;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.model.Problem;
import java.io.UncheckedIOException;

/** Renders a plan as stable JSON (machines, golden files) or as text (people). */
public final class PlanPrinter {
  private static final ObjectMapper JSON = Json.MAPPER;

  private PlanPrinter() {}

  public static String json(Plan plan) {
    try {
      return JSON.writeValueAsString(plan) + "\n";
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads a plan written by {@link #json}. */
  public static Plan readJson(String text) {
    try {
      return JSON.readValue(text, Plan.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a plan: " + e.getOriginalMessage(), e);
    }
  }

  public static String text(Plan p) {
    StringBuilder b = new StringBuilder();
    Plan.Kubernetes k = p.kubernetes();
    b.append("plan ").append(p.name()).append("  (from ").append(String.join(" <- ", p.recipeFiles()))
        .append(")\n");
    b.append("\nbase\n");
    Plan.Base base = p.base();
    line(b, "image", base.url() != null ? base.url() : base.path());
    line(b, "verified by", base.sha256() != null ? "sha256 " + base.sha256()
        : base.checksumsUrl() != null ? base.checksumsUrl()
            + (base.checksumsSignatureUrl() != null ? " (signed, key " + base.checksumsKeyFingerprint() + ")" : "")
            : "nothing (local file)");
    line(b, "expected os", base.distro() + " (" + base.family() + "), " + base.platform());
    b.append("\nkubernetes\n");
    line(b, "version", k.version() + (k.bomPatch().equals(k.version()) ? ""
        : " (bill of materials of " + k.bomPatch() + ")"));
    line(b, "role", k.role());
    line(b, "cni", k.cni() + " " + k.cniVersion());
    Plan.Containerd c = p.containerd();
    line(b, "containerd", c.source() + " " + (c.release() != null ? c.release() : c.line() + ".x")
        + " (config version " + c.configVersion() + ", metadata db version " + c.metadataVersion() + ")");
    line(b, "sandbox image", c.sandboxImage());
    b.append("\nrepositories\n");
    for (Plan.Repository r : p.repositories()) {
      line(b, r.name(), r.url() + (r.suite() != null ? " " + r.suite() : "")
          + (r.components().isEmpty() ? "" : " " + String.join(" ", r.components()))
          + "  key " + r.keyFingerprint());
    }
    b.append("\npackages (").append(p.packages().size()).append(")\n");
    int w = p.packages().stream().mapToInt(pk -> pk.name().length()).max().orElse(0);
    for (Plan.PlannedPackage pk : p.packages()) {
      b.append("  ").append(String.format("%-" + w + "s", pk.name())).append("  ")
          .append(pk.version() != null ? pk.version() : "any").append("  [").append(pk.reason())
          .append("]\n");
    }
    b.append("\nimages (").append(p.images().size()).append(")\n");
    for (Plan.PlannedImage i : p.images()) {
      b.append("  ").append(i.ref()).append("  [").append(i.component())
          .append(i.sandbox() ? ", sandbox" : "").append("]\n");
    }
    if (!p.mirrors().isEmpty()) {
      b.append("\nregistry mirrors\n");
      p.mirrors().forEach((host, list) -> list.forEach(m -> line(b, host, m.url() + " "
          + m.capabilities())));
    }
    b.append("\nfiles\n");
    for (Plan.PlannedFile f : p.files()) {
      b.append("  ").append(f.path()).append(" (").append(f.mode()).append(")");
      b.append(f.source() != null ? "  from " + f.source() : "").append('\n');
    }
    b.append("\nunits\n");
    line(b, "enable", String.join(" ", p.units().enable()));
    line(b, "disable", String.join(" ", p.units().disable()));
    line(b, "mask", String.join(" ", p.units().mask()));
    b.append("\nsteps\n  ").append(String.join(" -> ", p.steps())).append('\n');
    b.append("\noutput\n");
    for (String a : p.imageArchives()) {
      line(b, "image archive", a);
    }
    line(b, "disk", (p.diskBytes() >> 30) + " GiB virtual");
    line(b, "file", p.output().path() + " (" + p.output().format() + ", " + p.output().compression() + ")");
    if (p.output().vagrant() != null) {
      line(b, "vagrant box", p.output().vagrant() + " provider, beside the image (.box)");
    }
    if (p.output().publish() != null) {
      line(b, "publish", p.output().publish() + " (KubeVirt containerDisk, SBOMs and signatures attached)");
    }
    Plan.Catalogue cat = p.catalogue();
    b.append("\ncatalogue\n");
    line(b, "name", cat.name());
    line(b, "tag", cat.tag());
    line(b, "purpose", cat.purpose());
    line(b, "interface", cat.defaultInterface());
    line(b, "flags", "cloudinit=" + cat.cloudinit() + " public=" + cat.isPublic() + " enabled=" + cat.enabled());
    if (!p.warnings().isEmpty()) {
      b.append("\nwarnings\n");
      for (Problem warning : p.warnings()) {
        b.append("  ").append(warning.render()).append('\n');
      }
    }
    return b.toString();
  }

  private static void line(StringBuilder b, String key, String value) {
    b.append("  ").append(String.format("%-14s", key)).append(' ').append(value).append('\n');
  }
}
