package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.util.List;

/**
 * Kernel settings Kubernetes needs at boot: modules to load ({@code /etc/modules-load.d/}:
 * overlay, br_netfilter) and sysctls ({@code /etc/sysctl.d/}: bridge netfilter, forwarding,
 * inotify limits, the recipe's extras).
 */
public final class KernelStep implements Step {
  /** The modules-load.d and sysctl.d files. */
  public record Options(List<ImageFile> files) {
    public Options {
      files = List.copyOf(files);
    }
  }

  private final Options options;

  public KernelStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "kernel";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    ImageFile.writeAll(image, options.files());
    return String.join(", ", options.files().stream().map(ImageFile::path).toList());
  }
}
