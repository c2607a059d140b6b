package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * dnf family: SELinux permissive ({@code SELINUX=permissive} in {@code /etc/selinux/config}, as
 * kubeadm's instructions say) and firewalld disabled and masked (a preset would otherwise
 * re-enable it). Relabelling is {@link SelinuxRelabelStep}, after every other change.
 */
public final class SelinuxStep implements Step {
  /** The SELinux mode to set. */
  public record Options(String mode) {}

  private final Options options;

  public SelinuxStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "selinux-firewalld";
  }

  static String withMode(String config, String mode) {
    StringBuilder b = new StringBuilder();
    boolean set = false;
    for (String line : config.split("\n", -1)) {
      if (line.trim().startsWith("SELINUX=")) {
        b.append("SELINUX=").append(mode);
        set = true;
      } else {
        b.append(line);
      }
      b.append('\n');
    }
    b.setLength(b.length() - 1);
    if (!set) {
      b.append(b.length() > 0 && b.charAt(b.length() - 1) != '\n' ? "\n" : "").append("SELINUX=").append(mode).append('\n');
    }
    return b.toString();
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    List<String> done = new ArrayList<>();
    byte[] cfg = image.read("/etc/selinux/config");
    if (cfg != null) {
      image.write("/etc/selinux/config", withMode(new String(cfg, StandardCharsets.UTF_8), options.mode())
          .getBytes(StandardCharsets.UTF_8), 0644);
      done.add("SELINUX=" + options.mode());
    } else {
      done.add("no SELinux configuration");
    }
    if (Units.find(image, "firewalld.service") != null) {
      Units.disable(image, "firewalld.service");
      Units.mask(image, "firewalld.service");
      done.add("firewalld disabled and masked");
    } else {
      done.add("firewalld not installed");
    }
    return String.join(", ", done);
  }
}
