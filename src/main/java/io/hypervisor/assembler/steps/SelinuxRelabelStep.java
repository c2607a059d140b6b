package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.model.Distro;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * dnf family, after every other change: files written offline carry no SELinux labels. The image
 * is relabelled with its own {@code setfiles} and the file contexts of the policy its
 * {@code SELINUXTYPE} names (the appliance has neither), so it boots labelled; an image without
 * them relabels itself at first boot ({@code /.autorelabel}, one extra reboot), and the step says which.
 */
public final class SelinuxRelabelStep implements Step {
  /** Nothing to choose: relabel if the image uses SELinux. */
  public record Options() {}

  /** Where EL and Debian keep setfiles (EL's /sbin is a link to /usr/sbin). */
  static final List<String> SETFILES = List.of("/usr/sbin/setfiles", "/sbin/setfiles");

  public SelinuxRelabelStep(Options options) {
    // the record keeps the steps' common shape
  }

  @Override
  public String name() {
    return "selinux-relabel";
  }

  /** The script that relabels every labelled file system from the root (setfiles crosses mounts). */
  static String script(String setfiles, String fileContexts, List<String> skip) {
    StringBuilder b = new StringBuilder(setfiles).append(" -F");
    for (String s : skip) {
      b.append(" -e ").append(s);
    }
    return b.append(' ').append(fileContexts).append(" /\n").toString();
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    byte[] cfg = image.read("/etc/selinux/config");
    if (cfg == null) {
      return "no SELinux in the image";
    }
    String config = new String(cfg, StandardCharsets.UTF_8);
    // the same KEY=value shell syntax as os-release
    Map<String, String> settings = Distro.osReleaseFields(config);
    if ("disabled".equals(settings.get("SELINUX"))) {
      return "SELinux disabled in the image";
    }
    String type = settings.get("SELINUXTYPE");
    type = type == null || type.isEmpty() ? "targeted" : type;
    String fileContexts = "/etc/selinux/" + type + "/contexts/files/file_contexts";
    String setfiles = null;
    for (String s : SETFILES) {
      if (image.exists(s)) {
        setfiles = s;
        break;
      }
    }
    if (setfiles == null || !image.exists(fileContexts)) {
      image.write("/.autorelabel", new byte[0], 0644);
      String why = setfiles == null ? "the image has no setfiles" : "the image has no " + fileContexts;
      events.info("SELinux: " + why + "; the image relabels itself at first boot (/.autorelabel, one extra reboot)");
      return "relabel at first boot (/.autorelabel): " + why;
    }
    // The appliance's own mounts inside the root, and the ESP (vfat keeps no labels).
    List<String> skip = new ArrayList<>(List.of("/proc", "/sys", "/dev", "/run"));
    for (String mp : image.os().mountpoints().keySet()) {
      if (mp.endsWith("/efi") || mp.equals("/efi")) {
        skip.add(mp);
      }
    }
    image.run("relabelling with the image's setfiles (" + type + ")", script(setfiles, fileContexts, skip));
    return "relabelled with the image's " + setfiles + " and its " + type + " policy";
  }
}
