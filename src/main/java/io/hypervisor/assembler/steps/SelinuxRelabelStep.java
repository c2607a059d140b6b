package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.model.Distro;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * dnf family, after every other change: files written offline carry no SELinux labels. They are
 * labelled with the image's own {@code setfiles} and the file contexts of the policy its
 * {@code SELINUXTYPE} names (the appliance has neither), so the image boots labelled. A labelled
 * base (every EL and Fedora image is) needs labels only on what the build changed: the paths whose
 * ctime is after the base's newest ({@link Options#baseNewest}), which is seconds instead of minutes
 * of per-file matching under TCG; an unlabelled base, or one whose newest change is not known, is
 * relabelled whole. An image without setfiles or the contexts relabels itself at first boot
 * ({@code /.autorelabel}, one extra reboot), and the step says which.
 */
public final class SelinuxRelabelStep implements Step {
  /**
   * @param baseNewest the newest ctime (seconds) on the untouched base's file systems, as
   *     {@link #newestChange} read it; null relabels everything
   */
  public record Options(Long baseNewest) {}

  /** Where EL and Debian keep setfiles (EL's /sbin is a link to /usr/sbin). */
  static final List<String> SETFILES = List.of("/usr/sbin/setfiles", "/sbin/setfiles");

  /** The appliance's own mounts inside the root: never labelled, never searched. */
  private static final List<String> APPLIANCE = List.of("/proc", "/sys", "/dev", "/run");

  /** Where the list of labelled paths is kept while the script runs (the appliance's /dev: never in the image). */
  static final String LIST = "/dev/.assemble-relabel";

  private final Options options;

  public SelinuxRelabelStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "selinux-relabel";
  }

  /** The mounts not to label or search: the appliance's, and the ESP (vfat keeps no labels). */
  static List<String> skipped(ImageSession image) throws IOException {
    List<String> skip = new ArrayList<>(APPLIANCE);
    for (String mp : image.os().mountpoints().keySet()) {
      if (mp.endsWith("/efi")) {
        skip.add(mp);
      }
    }
    return skip;
  }

  /** {@code find} over every labelled file system, the skipped mounts pruned; {@code tail} ends the expression. */
  static String find(List<String> skip, String tail) {
    StringBuilder b = new StringBuilder("find / \\(");
    for (int i = 0; i < skip.size(); i++) {
      b.append(i == 0 ? "" : " -o").append(" -path ").append(skip.get(i));
    }
    return b.append(" \\) -prune -o ").append(tail).toString();
  }

  /**
   * The newest ctime on the open, untouched base's file systems (whole seconds, rounded up), or
   * null when the image has no SELinux configuration (nothing will be labelled) or find cannot say.
   * Every path a build step writes later has a newer ctime.
   */
  public static Long newestChange(ImageSession image) throws IOException {
    if (!image.exists("/etc/selinux/config")) {
      return null;
    }
    try {
      String out = image.sh(find(skipped(image), "-printf '%C@\\n'") + " | sort -rn | head -n 1\n").trim();
      return new BigDecimal(out).setScale(0, RoundingMode.CEILING).longValueExact();
    } catch (IOException | NumberFormatException | ArithmeticException e) {
      return null; // the relabel then labels everything
    }
  }

  /** Relabels everything below the root and the other labelled mounts (setfiles stays on one file system). */
  static String script(String setfiles, String fileContexts, List<String> skip, List<String> roots) {
    StringBuilder b = new StringBuilder(setfiles).append(" -F");
    for (String s : skip) {
      b.append(" -e ").append(s);
    }
    b.append(' ').append(fileContexts);
    for (String r : roots) {
      b.append(' ').append(r);
    }
    return b.append('\n').toString();
  }

  /**
   * Labels what changed after {@code since} when the base is labelled (its /usr/bin has a
   * context) and the guest's clock is past {@code since}, else everything. Changed files get labels; a changed directory only when it has
   * none (a new one: setfiles descends into every directory it is given, and an old directory
   * that gained entries keeps its label). Prints the count, or "all" (setfiles' own output goes to stderr).
   */
  static String changedScript(String setfiles, String fileContexts, List<String> skip, List<String> roots, long since) {
    String changed = "-newerct @" + since;
    // a base changed after the guest's clock (a skewed host clock) cannot tell the build's changes apart
    return "if [ \"$(date +%s)\" -gt " + since + " ] && [ -n \"$(find /usr/bin -maxdepth 0 -printf '%Z' 2>/dev/null)\" ]; then\n"
        + "  { " + find(skip, changed + " ! -type d -print0") + "\n"
        + "    " + find(skip, changed + " -type d -printf '%Z%p\\0'") + " 2>/dev/null | { grep -z '^/' || true; }\n"
        + "  } > " + LIST + "\n"
        + "  " + setfiles + " -F -0 -f " + LIST + " " + fileContexts + " >&2\n"
        + "  tr -cd '\\000' < " + LIST + " | wc -c\n"
        + "  rm -f " + LIST + "\n"
        + "else\n"
        + "  " + script(setfiles, fileContexts, skip, roots).trim() + " >&2\n"
        + "  echo all\n"
        + "fi\n";
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
    List<String> skip = skipped(image);
    List<String> roots = new ArrayList<>(List.of("/"));
    for (String mp : image.os().mountpoints().keySet()) {
      if (!mp.equals("/") && !skip.contains(mp)) {
        roots.add(mp);
      }
    }
    String what = "relabelling with the image's setfiles (" + type + ")";
    String by = " with the image's " + setfiles + " and its " + type + " policy";
    if (options.baseNewest() == null) {
      image.run(what, script(setfiles, fileContexts, skip, roots));
      return "relabelled everything" + by + " (the base's newest change is not known)";
    }
    String out = image.sh("set -e\n" + changedScript(setfiles, fileContexts, skip, roots, options.baseNewest())).trim();
    if (out.equals("all")) {
      return "relabelled everything" + by + " (the base is not labelled, or changed after this clock)";
    }
    return "relabelled " + out + " paths the build changed" + by + " (the base is labelled)";
  }
}
