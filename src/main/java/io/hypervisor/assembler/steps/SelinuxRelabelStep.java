package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;

/**
 * dnf family, after every other change: files written offline carry no SELinux labels. The
 * appliance here (Debian's) has no setfiles, so it cannot relabel with the guest's own policy;
 * the image then relabels itself at first boot ({@code /.autorelabel}), and the step says so.
 */
public final class SelinuxRelabelStep implements Step {
  /** Nothing to choose: relabel if the image uses SELinux. */
  public record Options() {}

  public SelinuxRelabelStep(Options options) {
    // the record keeps the steps' common shape
  }

  @Override
  public String name() {
    return "selinux-relabel";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    if (image.read("/etc/selinux/config") == null) {
      return "no SELinux in the image";
    }
    image.write("/.autorelabel", new byte[0], 0644);
    events.info("SELinux: the appliance has no setfiles to relabel with the guest's policy; the image relabels "
        + "itself at first boot (/.autorelabel, one extra reboot)");
    return "relabel at first boot (/.autorelabel)";
  }
}
