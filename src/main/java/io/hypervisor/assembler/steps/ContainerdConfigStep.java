package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.util.List;

/**
 * containerd's configuration, replacing the package's (Docker's containerd.io ships one with CRI
 * disabled): CRI on, SystemdCgroup, the sandbox image pinned, {@code config_path} for registry
 * hosts with the recipe's mirrors as {@code hosts.toml}, in the config version the installed
 * containerd reads; and {@code /etc/crictl.yaml} pointing at containerd's socket.
 */
public final class ContainerdConfigStep implements Step {
  /** config.toml, hosts.toml (and mirror CA files), crictl.yaml. */
  public record Options(List<ImageFile> files) {
    public Options {
      files = List.copyOf(files);
    }
  }

  private final Options options;

  public ContainerdConfigStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "containerd-config";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    if (image.glob("/usr/bin/containerd").isEmpty()) {
      throw new IOException("containerd is not installed in the image (no /usr/bin/containerd); the packages step "
          + "should have installed it");
    }
    ImageFile.writeAll(image, options.files());
    return options.files().size() + " files";
  }
}
