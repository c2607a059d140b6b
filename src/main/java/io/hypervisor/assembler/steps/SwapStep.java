package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * No swap, as kubelet requires: swap entries leave {@code /etc/fstab} (a swap file they name on
 * the root file system is deleted), {@code swap.target} is masked, and zram swap generators
 * (Fedora's zram-generator) are disabled by an empty configuration.
 */
public final class SwapStep implements Step {
  /** Nothing to choose today; the record keeps the step's shape. */
  public record Options(boolean maskSwapTarget) {}

  private final Options options;

  public SwapStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "swap";
  }

  /** fstab without swap lines; the removed lines' devices or files. */
  static List<String> removeSwap(String fstab, StringBuilder kept) {
    List<String> removed = new ArrayList<>();
    for (String line : fstab.split("\n", -1)) {
      String[] f = line.trim().split("\\s+");
      if (!line.trim().startsWith("#") && f.length >= 3 && f[2].equals("swap")) {
        removed.add(f[0]);
        continue;
      }
      kept.append(line).append('\n');
    }
    if (kept.length() > 0) {
      kept.setLength(kept.length() - 1);
    }
    return removed;
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    List<String> done = new ArrayList<>();
    byte[] fstab = image.read("/etc/fstab");
    if (fstab != null) {
      StringBuilder kept = new StringBuilder();
      List<String> removed = removeSwap(new String(fstab, StandardCharsets.UTF_8), kept);
      if (!removed.isEmpty()) {
        image.write("/etc/fstab", kept.toString().getBytes(StandardCharsets.UTF_8), 0644);
        for (String what : removed) {
          if (what.startsWith("/") && !what.startsWith("/dev/") && image.exists(what)) {
            image.remove(what);
          }
          done.add("removed " + what);
        }
      }
    }
    if (options.maskSwapTarget()) {
      Units.mask(image, "swap.target");
      done.add("swap.target masked");
    }
    if (zramGenerator(image)) {
      // zram-generator reads /etc first; an empty file there means "no zram devices".
      image.write("/etc/systemd/zram-generator.conf", new byte[0], 0644);
      done.add("zram-generator disabled");
    }
    return done.isEmpty() ? "no swap configured" : String.join(", ", done);
  }

  /** Whether the image has Fedora's zram-generator (its generator or its distribution config). */
  public static boolean zramGenerator(ImageSession image) throws IOException {
    return image.exists("/usr/lib/systemd/system-generators/zram-generator")
        || image.exists("/usr/lib/systemd/zram-generator.conf");
  }
}
