package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.containerd.StoreOptions;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.DirectoryWriter;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.fetch.ImageFinder;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.PlanPrinter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code assemble seed}: pulls images and writes containerd's store for them into a root
 * directory (an image tree, or an existing host's {@code /var/lib/containerd} with containerd
 * stopped: its meta.db is merged, not replaced).
 */
public final class Seeder {
  /** What to seed: images, for which containerd line, node platform and sandbox image. */
  public record Request(List<String> images, String containerdLine, Platform platform, String sandboxImage,
      ImageTools.Access access) {}

  /** What was written. */
  public record Result(Path root, int images, int blobs, long bytes) {}

  private final Settings settings;
  private final EventSink events;

  public Seeder(Settings settings, EventSink events) {
    this.settings = settings;
    this.events = events;
  }

  /** A request from a plan file written by {@code assemble plan --json}. */
  public static Request fromPlan(Path planFile, ImageTools.Access fallback) {
    Plan plan;
    try {
      plan = PlanPrinter.readJson(io.hypervisor.assembler.model.SmallFiles.readString(planFile,
          io.hypervisor.assembler.model.SmallFiles.LOCK, "plan"));
    } catch (IOException | IllegalArgumentException e) {
      throw AssemblerException.input("cannot read plan " + planFile + ": " + e.getMessage(),
          "write one with: assemble plan --json RECIPE > plan.json");
    }
    Map<String, List<String>> mirrors = new LinkedHashMap<>(fallback.mirrors());
    plan.mirrors().forEach((reg, list) -> mirrors.putIfAbsent(reg, list.stream().map(Plan.Mirror::url).toList()));
    return new Request(plan.images().stream().map(Plan.PlannedImage::ref).toList(), plan.containerd().line(),
        Platform.parse(plan.base().platform()), plan.containerd().sandboxImage(),
        new ImageTools.Access(fallback.hostsDir(), mirrors, fallback.http(), fallback.environment(),
            fallback.archives()));
  }

  public Result seed(Request r, Path root) {
    StoreOptions o = StoreOptions.forContainerd(r.containerdLine(), r.sandboxImage(), r.platform(),
        StoreOptions.timestamp(r.access().environment()));
    try {
      ContentStore store = ContentStore.open(settings.cacheDir());
      List<ImageRecord> records = new ArrayList<>();
      List<String> missing = new ArrayList<>();
      try (AutoCloseable lease = store.lease();
          ImageFinder finder = new ImageTools(settings, events).finder(r.access(), store)) {
        for (String ref : r.images()) {
          try (EventSink.Step step = events.step("pull " + ref, null)) {
            ImageRef parsed = ImageTools.ref(ref);
            ImageFinder.Found f = finder.find(parsed, parsed.toString(), List.of(r.platform()));
            if (f == null) {
              missing.add(ref);
              step.ok("missing");
              continue;
            }
            records.add(f.image());
            step.ok(f.from().isEmpty() ? null : f.from());
          }
        }
        if (!missing.isEmpty()) {
          throw ImageTools.offline(missing);
        }
        try (EventSink.Step step = events.step("write containerd store", root.toString())) {
          Files.createDirectories(root);
          Path db = root.resolve(ContainerdStore.METADATA).resolve("meta.db");
          byte[] existing = Files.exists(db) ? Files.readAllBytes(db) : null;
          ContainerdStore.write(records, o, store, new DirectoryWriter(root, store), "", existing);
          step.ok((existing != null ? "merged into the existing meta.db, " : "") + "metadata version "
              + o.metadataVersion());
        }
      }
      long bytes = ContainerdStore.size(records, o);
      int blobs = (int) records.stream().flatMap(i -> i.blobs().stream()).map(d -> d.digest()).distinct().count();
      return new Result(root, records.size(), blobs, bytes);
    } catch (AssemblerException e) {
      throw e;
    } catch (Exception e) {
      throw ImageTools.failure(e);
    }
  }
}
