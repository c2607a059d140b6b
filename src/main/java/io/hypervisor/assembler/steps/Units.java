package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * systemd unit enablement done on files, as {@code systemctl enable/disable/mask} does offline:
 * {@code [Install]} WantedBy/RequiredBy become {@code .wants}/{@code .requires} symlinks under
 * {@code /etc/systemd/system}, Alias a symlink, Also enables the named units too; a mask is a
 * symlink to {@code /dev/null}. Working on files keeps the step independent of the guest's
 * systemctl and lets verify read the same state back.
 */
public final class Units {
  /** Where unit files live, in systemd's search order for the system instance. */
  static final List<String> DIRS = List.of("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system");
  private static final String ETC = "/etc/systemd/system";

  /** How a unit stands. */
  public enum State { ENABLED, DISABLED, STATIC, MASKED, MISSING }

  /** A unit file's [Install] section. */
  record Install(List<String> wantedBy, List<String> requiredBy, List<String> alias, List<String> also) {
    boolean empty() {
      return wantedBy.isEmpty() && requiredBy.isEmpty() && alias.isEmpty() && also.isEmpty();
    }
  }

  private Units() {}

  /** The unit's file in the vendor directories (or a real file in /etc), or null when it does not exist. */
  static String find(ImageSession image, String unit) throws IOException {
    for (String dir : DIRS) {
      String p = dir + "/" + unit;
      String link = image.readlink(p);
      if (link != null) {
        if (dir.equals(ETC)) {
          continue; // a mask or an enablement alias, not the unit's definition
        }
        return p;
      }
      if (image.read(p) != null) {
        return p;
      }
    }
    return null;
  }

  static Install install(ImageSession image, String path) throws IOException {
    List<String> wanted = new ArrayList<>();
    List<String> required = new ArrayList<>();
    List<String> alias = new ArrayList<>();
    List<String> also = new ArrayList<>();
    boolean in = false;
    for (String raw : new String(image.read(path), StandardCharsets.UTF_8).split("\n")) {
      String l = raw.trim();
      if (l.startsWith("[")) {
        in = l.equals("[Install]");
        continue;
      }
      int eq = l.indexOf('=');
      if (!in || eq < 0 || l.startsWith("#")) {
        continue;
      }
      String k = l.substring(0, eq).trim();
      List<String> vs = List.of(l.substring(eq + 1).trim().split("\\s+"));
      switch (k) {
        case "WantedBy" -> wanted.addAll(vs);
        case "RequiredBy" -> required.addAll(vs);
        case "Alias" -> alias.addAll(vs);
        case "Also" -> also.addAll(vs);
        default -> { }
      }
    }
    wanted.removeIf(String::isEmpty);
    required.removeIf(String::isEmpty);
    alias.removeIf(String::isEmpty);
    also.removeIf(String::isEmpty);
    return new Install(wanted, required, alias, also);
  }

  /** Enables a unit; returns its state afterwards (STATIC when it has nothing to enable). */
  public static State enable(ImageSession image, String unit) throws IOException {
    String path = find(image, unit);
    if (path == null) {
      throw new IOException("cannot enable " + unit + ": no such unit in the image");
    }
    if (State.MASKED == state(image, unit)) {
      image.remove(ETC + "/" + unit);
    }
    Install i = install(image, path);
    for (String t : i.wantedBy()) {
      image.symlink(path, ETC + "/" + t + ".wants/" + unit);
    }
    for (String t : i.requiredBy()) {
      image.symlink(path, ETC + "/" + t + ".requires/" + unit);
    }
    for (String a : i.alias()) {
      image.symlink(path, ETC + "/" + a);
    }
    for (String a : i.also()) {
      enable(image, a);
    }
    return i.wantedBy().isEmpty() && i.requiredBy().isEmpty() && i.alias().isEmpty() ? State.STATIC : State.ENABLED;
  }

  /** Disables a unit: every enablement symlink of it goes (its package may have enabled it). */
  public static void disable(ImageSession image, String unit) throws IOException {
    for (String pattern : List.of(ETC + "/*.wants/" + unit, ETC + "/*.requires/" + unit)) {
      for (String p : image.glob(pattern)) {
        image.remove(p);
      }
    }
    String path = find(image, unit);
    if (path != null) {
      for (String a : install(image, path).alias()) {
        if (image.readlink(ETC + "/" + a) != null) {
          image.remove(ETC + "/" + a);
        }
      }
    }
  }

  /** Masks a unit: it cannot start, whatever wants it. */
  public static void mask(ImageSession image, String unit) throws IOException {
    image.symlink("/dev/null", ETC + "/" + unit);
  }

  /** The unit's state as systemctl is-enabled would name it (for the unit states this project sets). */
  public static State state(ImageSession image, String unit) throws IOException {
    if ("/dev/null".equals(image.readlink(ETC + "/" + unit))) {
      return State.MASKED;
    }
    String path = find(image, unit);
    if (path == null) {
      return State.MISSING;
    }
    if (!image.glob(ETC + "/*.wants/" + unit).isEmpty() || !image.glob(ETC + "/*.requires/" + unit).isEmpty()) {
      return State.ENABLED;
    }
    Install i = install(image, path);
    return i.wantedBy().isEmpty() && i.requiredBy().isEmpty() && i.alias().isEmpty() && i.also().isEmpty()
        ? State.STATIC : State.DISABLED;
  }
}
