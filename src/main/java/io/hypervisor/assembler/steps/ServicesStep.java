package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Which services start at boot: containerd and qemu-guest-agent enabled; kubelet disabled (its
 * package enables it, but it must not start before cloud-init's kubeadm has placed the cluster's
 * certificates); the plan's masks (swap.target).
 */
public final class ServicesStep implements Step {
  /** Units to enable, disable and mask. */
  public record Options(List<String> enable, List<String> disable, List<String> mask) {
    public Options {
      enable = List.copyOf(enable);
      disable = List.copyOf(disable);
      mask = List.copyOf(mask);
    }
  }

  private final Options options;

  public ServicesStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "services";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    List<String> done = new ArrayList<>();
    for (String u : options.enable()) {
      Units.State s = Units.enable(image, u);
      if (s == Units.State.STATIC) {
        // qemu-guest-agent on Debian: no [Install]; udev starts it when its virtio port appears.
        events.info(u + " has no [Install] section (static): it is started by its trigger, nothing to enable");
      }
      done.add(u + " " + s.name().toLowerCase(java.util.Locale.ROOT));
    }
    for (String u : options.disable()) {
      Units.disable(image, u);
      done.add(u + " disabled");
    }
    for (String u : options.mask()) {
      Units.mask(image, u);
      done.add(u + " masked");
    }
    return String.join(", ", done);
  }
}
