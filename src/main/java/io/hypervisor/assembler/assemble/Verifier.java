package io.hypervisor.assembler.assemble;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.model.Check.Status;
import io.hypervisor.assembler.model.ContainerdLine;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.Distro;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.plan.ContainerdRelease;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.steps.CleanupStep;
import io.hypervisor.assembler.steps.Units;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The static verify: a written image checked without booting it, the file-level twin of the
 * platform's manual checklist. Every check names what it looked at; a failure names what is wrong.
 */
public final class Verifier {
  private static final String STORE = "/var/lib/containerd";
  private static final List<String> KUBE = List.of("kubelet", "kubeadm", "kubectl");
  private static final TomlMapper TOML = new TomlMapper();

  private final ImageSession image;
  private Plan plan;
  private final Lock lock;
  private final List<Check> checks = new ArrayList<>();
  private String binariesOutput;

  public Verifier(ImageSession image, Plan plan, Lock lock) {
    this.image = image;
    this.plan = plan;
    this.lock = lock;
  }

  /** Runs every check; none stops the others. */
  public List<Check> run(EventSink events) {
    // The containerd the image has decides which config version and store schema are right,
    // as it did when the image was built (the recipe only wishes for a line).
    try {
      Installed in = installed();
      plan = ContainerdRelease.PACKAGES.stream().filter(in.versions()::containsKey).findFirst()
          .flatMap(p -> ContainerdRelease.of(p, in.versions().get(p))).map(r -> r.apply(plan)).orElse(plan);
    } catch (RuntimeException e) {
      // the "package database" check reports an unreadable one
    }
    Map<String, Runnable> all = new LinkedHashMap<>();
    all.put("os", this::os);
    all.put("packages", this::packages);
    all.put("binaries", this::binaries);
    all.put("services", this::services);
    all.put("kernel", this::kernel);
    all.put("swap", this::swap);
    all.put("files", this::files);
    all.put("containerd", this::containerd);
    all.put("images", this::images);
    all.put("cloud-init", this::cloudInit);
    all.put("selinux", this::selinux);
    all.put("hygiene", this::hygiene);
    List<String> took = new ArrayList<>();
    for (var r : all.entrySet()) {
      long start = System.nanoTime();
      try {
        r.getValue().run();
      } catch (RuntimeException e) {
        add("verify", Status.FAIL, "a check could not run: " + e.getMessage());
      }
      took.add(r.getKey() + " " + String.format(java.util.Locale.ROOT, "%.1f s", (System.nanoTime() - start) / 1e9));
    }
    // Each check is a few appliance round trips; under TCG their cost is worth seeing.
    events.debug("verify took: " + String.join(", ", took));
    return List.copyOf(checks);
  }

  private void add(String name, Status s, String detail) {
    checks.add(new Check(name, s, detail));
  }

  private void add(String name, boolean ok, String good, String bad) {
    add(name, ok ? Status.OK : Status.FAIL, ok ? good : bad);
  }

  private String text(String path) {
    try {
      byte[] b = image.read(path);
      return b == null ? null : new String(b, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  private boolean apt() {
    return plan.base().family().equals("apt");
  }

  private void os() {
    ImageSession.OsInfo os = image.os();
    String want = plan.base().distro();
    add("os", Distro.parse(want).matches(os.distro(), os.major(), os.minor()), os.distro() + " " + os.major() + "."
        + os.minor(), "the image is " + os.distro() + " " + os.major() + "." + os.minor() + ", the plan wants " + want);
  }

  /** Installed packages: name → version, and the held ones. */
  private record Installed(Map<String, String> versions, Set<String> held) {}

  private Installed installed;

  /** The package database, read once: the rpm family's answer is a command under emulation. */
  private Installed installed() {
    if (installed == null) {
      installed = readInstalled();
    }
    return installed;
  }

  private Installed readInstalled() {
    Map<String, String> versions = new LinkedHashMap<>();
    Set<String> held = new TreeSet<>();
    if (apt()) {
      String status = text("/var/lib/dpkg/status");
      if (status == null) {
        add("package database", Status.FAIL, "no /var/lib/dpkg/status: every package counts as not installed");
        return new Installed(versions, held);
      }
      for (String stanza : status.split("\n\n")) {
        String name = field(stanza, "Package");
        String st = field(stanza, "Status");
        if (name != null && st != null && st.endsWith(" installed")) {
          versions.put(name, field(stanza, "Version"));
          if (st.startsWith("hold ")) {
            held.add(name);
          }
        }
      }
    } else {
      String all;
      try {
        all = image.command(List.of("rpm", "-qa", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n"));
      } catch (IOException e) {
        // One check says why; the package checks then say "not installed", which is what a node sees.
        add("package database", Status.FAIL, "cannot read the rpm database (" + e.getMessage()
            + "): every package counts as not installed");
        return new Installed(versions, held);
      }
      for (String line : all.split("\n")) {
        String[] f = line.trim().split(" ");
        if (f.length == 2) {
          versions.put(f[0], f[1].startsWith("0:") ? f[1].substring(2) : f[1]);
        }
      }
      // dnf's .repo excludes them from updates: that is the rpm family's hold
      String repo = text("/etc/yum.repos.d/kubernetes.repo");
      if (repo != null && repo.contains("exclude=")) {
        held.addAll(KUBE);
      }
    }
    return new Installed(versions, held);
  }

  private static String field(String stanza, String name) {
    for (String l : stanza.split("\n")) {
      if (l.startsWith(name + ":")) {
        return l.substring(name.length() + 1).trim();
      }
    }
    return null;
  }

  private String wanted(String name) {
    if (lock != null) {
      return lock.packages().stream().filter(p -> p.name().equals(name)).map(Lock.Package::version).findFirst()
          .orElse(null);
    }
    return plan.packages().stream().filter(p -> p.name().equals(name)).map(Plan.PlannedPackage::version)
        .findFirst().orElse(null);
  }

  private void packages() {
    Installed in = installed();
    for (String p : KUBE) {
      String have = in.versions().get(p);
      String want = wanted(p);
      boolean ok = have != null && (want == null || new PackageRef(p, want).accepts(have));
      add("package " + p, ok, have + (in.held().contains(p) ? ", held" : ", NOT held"),
          have == null ? "not installed" : "installed " + have + ", the plan wants " + want);
      if (ok && !in.held().contains(p)) {
        add("package " + p + " held", Status.FAIL, "not held: an unattended upgrade could move it off the pinned patch");
      }
    }
    String runtime = plan.containerd() != null && plan.containerd().source().equals("containerd.io") ? "containerd.io"
        : "containerd";
    add("package " + runtime, in.versions().containsKey(runtime), in.versions().get(runtime), "not installed");
    add("package qemu-guest-agent", in.versions().containsKey("qemu-guest-agent"), in.versions().get("qemu-guest-agent"),
        "not installed");
    add("package cloud-init", in.versions().containsKey("cloud-init"), in.versions().get("cloud-init"), "not installed");
    if (lock != null) {
      List<String> missing = new ArrayList<>();
      for (Lock.Package p : lock.packages()) {
        if (!p.version().equals(in.versions().get(p.name()))) {
          missing.add(p.name() + " " + p.version() + " (image: " + in.versions().get(p.name()) + ")");
        }
      }
      add("lock packages", missing.isEmpty(), lock.packages().size() + " at their locked versions",
          String.join(", ", missing));
    }
  }

  /** The binaries the checklist runs, with their arguments. */
  private static Map<String, List<String>> binaryCommands() {
    Map<String, List<String>> cmds = new LinkedHashMap<>();
    cmds.put("kubelet", List.of("kubelet", "--version"));
    cmds.put("kubeadm", List.of("kubeadm", "version", "-o", "short"));
    cmds.put("kubectl", List.of("kubectl", "version", "--client"));
    return cmds;
  }

  /** The names of the binaries the checklist runs (looked up on the image's PATH). */
  public static List<String> binaryNames() {
    return List.copyOf(binaryCommands().keySet());
  }

  /** The one script that runs them: each command through the appliance costs ~1 s of setup under TCG. */
  public static String binariesScript() {
    StringBuilder script = new StringBuilder();
    binaryCommands().forEach((name, argv) -> script.append("echo '@@ ").append(name).append("'; ")
        .append(String.join(" ", argv)).append(" 2>&1; echo \"@@ rc $?\"\n"));
    return script.toString();
  }

  /** What that script printed in the image, once {@link #run} ran it (null: it did not run). */
  public String binariesOutput() {
    return binariesOutput;
  }

  private void binaries() {
    String v = "v" + plan.kubernetes().version();
    Map<String, List<String>> cmds = binaryCommands();
    Map<String, String> out = new LinkedHashMap<>();
    Map<String, String> rc = new LinkedHashMap<>();
    try {
      String current = null;
      StringBuilder text = new StringBuilder();
      binariesOutput = null;
      String printed = image.sh(binariesScript());
      binariesOutput = printed;
      for (String l : printed.split("\n", -1)) {
        if (l.startsWith("@@ rc ") && current != null) {
          rc.put(current, l.substring(6).trim());
          out.put(current, text.toString().trim());
          current = null;
        } else if (l.startsWith("@@ ")) {
          current = l.substring(3).trim();
          text.setLength(0);
        } else if (current != null) {
          text.append(l).append('\n');
        }
      }
    } catch (IOException ex) {
      for (var e : cmds.entrySet()) {
        add("binary " + e.getKey(), Status.FAIL, String.join(" ", e.getValue()) + " failed: " + ex.getMessage());
      }
      return;
    }
    for (var e : cmds.entrySet()) {
      String cmd = String.join(" ", e.getValue());
      String answer = out.getOrDefault(e.getKey(), "");
      String first = answer.lines().findFirst().orElse("");
      if (!"0".equals(rc.get(e.getKey()))) {
        add("binary " + e.getKey(), Status.FAIL, cmd + " failed (exit " + rc.getOrDefault(e.getKey(), "?") + "): " + first);
        continue;
      }
      add("binary " + e.getKey(), answer.contains(v), first, cmd + " answered \"" + first + "\", expected " + v);
    }
  }

  private Units.State unit(String name) {
    try {
      return Units.state(image, name);
    } catch (IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  private void services() {
    for (String u : plan.units().enable()) {
      Units.State s = unit(u);
      add("unit " + u, s == Units.State.ENABLED || s == Units.State.STATIC, s.name().toLowerCase(java.util.Locale.ROOT)
          + (s == Units.State.STATIC ? " (started by its trigger)" : ""), "is " + s.name().toLowerCase(java.util.Locale.ROOT)
          + ", must be enabled");
    }
    for (String u : plan.units().disable()) {
      Units.State s = unit(u);
      add("unit " + u, s == Units.State.DISABLED, "installed and disabled (cloud-init's kubeadm starts it)",
          s == Units.State.MISSING ? "not installed" : "is " + s.name().toLowerCase(java.util.Locale.ROOT)
              + ": it would start before the node has its certificates");
    }
    for (String u : plan.units().mask()) {
      Units.State s = unit(u);
      add("unit " + u, s == Units.State.MASKED, "masked", "is " + s.name().toLowerCase(java.util.Locale.ROOT));
    }
  }

  private void kernel() {
    String mods = text("/etc/modules-load.d/k8s.conf");
    add("modules", mods != null && mods.contains("overlay") && mods.contains("br_netfilter"),
        "overlay, br_netfilter at boot", "/etc/modules-load.d/k8s.conf missing or incomplete");
    String sysctl = text("/etc/sysctl.d/99-kubernetes.conf");
    List<String> missing = new ArrayList<>();
    for (String k : List.of("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
        "net.ipv4.ip_forward")) {
      if (sysctl == null || !sysctl.lines().map(l -> l.replace(" ", "")).toList().contains(k + "=1")) {
        missing.add(k + "=1");
      }
    }
    add("sysctl", missing.isEmpty(), "bridge-nf-call-iptables/ip6tables and ip_forward = 1",
        "missing: " + String.join(", ", missing));
  }

  private void swap() {
    String fstab = text("/etc/fstab");
    List<String> swaps = fstab == null ? List.of() : fstab.lines().filter(l -> !l.trim().startsWith("#"))
        .filter(l -> l.trim().split("\\s+").length >= 3 && l.trim().split("\\s+")[2].equals("swap")).toList();
    boolean generator;
    List<String> dropIns = new ArrayList<>();
    try {
      generator = io.hypervisor.assembler.steps.SwapStep.zramGenerator(image);
      for (String d : List.of("/etc/systemd/zram-generator.conf.d/*.conf", "/usr/lib/systemd/zram-generator.conf.d/*.conf",
          "/run/systemd/zram-generator.conf.d/*.conf")) {
        dropIns.addAll(image.glob(d));
      }
    } catch (IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    String zram = zramProblem(generator, text("/etc/systemd/zram-generator.conf"), dropIns);
    List<String> problems = new ArrayList<>();
    if (!swaps.isEmpty()) {
      problems.add("active swap entries: " + String.join("; ", swaps));
    }
    if (zram != null) {
      problems.add(zram);
    }
    add("swap", problems.isEmpty(), "no swap in /etc/fstab" + (generator ? ", zram-generator off" : ""),
        String.join("; ", problems));
  }

  /**
   * What would still make a zram swap device at boot (Fedora's zram-generator, which needs no fstab
   * line), or null: an /etc/systemd/zram-generator.conf with no [zram…] section masks the
   * distribution's own file, but drop-ins would still add devices.
   */
  static String zramProblem(boolean generator, String etcConf, List<String> dropIns) {
    if (!generator) {
      return null;
    }
    if (etcConf == null) {
      return "zram-generator would make a zram swap device at boot (no /etc/systemd/zram-generator.conf)";
    }
    if (etcConf.lines().anyMatch(l -> l.trim().startsWith("[zram"))) {
      return "/etc/systemd/zram-generator.conf defines a zram device";
    }
    if (!dropIns.isEmpty()) {
      return "zram-generator drop-ins define devices: " + String.join(", ", dropIns);
    }
    return null;
  }

  private void files() {
    List<String> wrong = new ArrayList<>();
    int n = 0;
    for (Plan.PlannedFile f : plan.files()) {
      if (f.content() == null) {
        try {
          if (!image.exists(f.path())) {
            wrong.add(f.path() + " missing");
          }
        } catch (IOException e) {
          wrong.add(f.path() + ": " + e.getMessage());
        }
        n++;
        continue;
      }
      String have = text(f.path());
      if (!f.content().equals(have)) {
        wrong.add(f.path() + (have == null ? " missing" : " differs from the plan"));
      }
      n++;
    }
    add("planned files", wrong.isEmpty(), n + " files as planned", String.join("; ", wrong));
  }

  /** The CRI plugin ids a config may disable by mistake (Docker's containerd.io ships disabled_plugins = ["cri"]). */
  private static final Set<String> CRI_PLUGINS = Set.of("cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
      "io.containerd.cri.v1.runtime");

  /**
   * The installed containerd line, the config version it is given and the store schema seeded
   * for it must agree (1.x: config 2, metadata 3; 2.x: config 3, metadata 4), and CRI must be on.
   */
  private void containerd() {
    Installed in = installed();
    String pkg = ContainerdRelease.PACKAGES.stream().filter(in.versions()::containsKey).findFirst().orElse(null);
    if (pkg == null) {
      add("containerd", Status.FAIL, "no containerd package is installed");
      return;
    }
    ContainerdLine line = ContainerdLine.ofVersion(in.versions().get(pkg)).orElse(null);
    List<String> wrong = new ArrayList<>();
    String config = text("/etc/containerd/config.toml");
    int configVersion = 0;
    if (config == null) {
      wrong.add("no /etc/containerd/config.toml");
    } else {
      try {
        JsonNode toml = TOML.readTree(config);
        configVersion = toml.path("version").asInt(1);
        List<String> disabled = new ArrayList<>();
        toml.path("disabled_plugins").forEach(n -> disabled.add(n.asText()));
        disabled.retainAll(CRI_PLUGINS);
        if (!disabled.isEmpty()) {
          wrong.add("config.toml disables CRI (disabled_plugins " + disabled + ")");
        }
      } catch (IOException e) {
        wrong.add("config.toml does not parse as TOML: " + e.getMessage().lines().findFirst().orElse(""));
      }
    }
    int metadata = metadataVersion();
    if (line == null) {
      wrong.add(pkg + " " + in.versions().get(pkg) + " has no major.minor version");
    } else {
      if (config != null && configVersion != line.configVersion()) {
        wrong.add("config.toml is version " + configVersion + ", containerd " + line + " reads version "
            + line.configVersion());
      }
      if (metadata != 0 && metadata != line.metadataVersion()) {
        wrong.add("meta.db has metadata schema " + metadata + ", containerd " + line + " writes "
            + line.metadataVersion());
      }
    }
    add("containerd", wrong.isEmpty(), pkg + " " + in.versions().get(pkg) + ": config version " + configVersion
        + ", CRI on" + (metadata != 0 ? ", metadata schema " + metadata : ""), String.join("; ", wrong));
  }

  /** meta.db's schema version, 0 when there is none (the image-store check says why). */
  private int metadataVersion() {
    try {
      byte[] db = image.read(STORE + "/" + ContainerdStore.METADATA + "/meta.db");
      return db == null ? 0 : ContainerdStore.read(db, "k8s.io").version();
    } catch (IOException e) {
      return 0;
    }
  }

  private void images() {
    byte[] db;
    try {
      db = image.read(STORE + "/" + ContainerdStore.METADATA + "/meta.db");
    } catch (IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    if (db == null) {
      add("image store", Status.FAIL, "no containerd meta.db: no images are seeded");
      return;
    }
    ContainerdStore.Catalog cat;
    try {
      cat = ContainerdStore.read(db, "k8s.io");
    } catch (IOException e) {
      add("image store", Status.FAIL, e.getMessage());
      return;
    }
    Map<String, ContainerdStore.StoredImage> byName = new LinkedHashMap<>();
    cat.images().forEach(i -> byName.put(i.name(), i));
    Set<String> wanted = new TreeSet<>();
    for (Plan.PlannedImage i : plan.images()) {
      String name = ImageRef.parse(i.ref()).tagged();
      wanted.add(name);
      ContainerdStore.StoredImage s = byName.get(name);
      String lockDigest = lock == null ? null : lock.images().stream().filter(l -> l.ref().equals(i.ref()))
          .map(Lock.Image::digest).findFirst().orElse(null);
      if (s == null) {
        add("image " + name, Status.FAIL, "not in containerd's store (" + i.component() + ")");
      } else if (lockDigest != null && !lockDigest.equals(s.digest().toString())) {
        add("image " + name, Status.FAIL, "is " + s.digest() + ", the lock says " + lockDigest);
      } else {
        add("image " + name, Status.OK, s.digest().shortHex() + (s.pinned() ? ", pinned" : "") + " (" + i.component() + ")");
      }
    }
    List<String> extra = byName.keySet().stream().filter(n -> !n.contains("@") && !n.startsWith("sha256:"))
        .filter(n -> !wanted.contains(n)).toList();
    add("images for the role", extra.isEmpty(), "exactly the plan's " + wanted.size() + " images ("
        + plan.kubernetes().role() + ")", "not planned for " + plan.kubernetes().role() + ": " + String.join(", ", extra));
    List<String> bad = new ArrayList<>();
    long bytes = 0;
    try {
      String blobs = STORE + "/" + ContainerdStore.CONTENT + "/blobs/sha256";
      Map<String, String> sums = image.sha256Under(blobs);
      for (var e : cat.content().entrySet()) {
        String have = sums.get(e.getKey().encoded());
        if (have == null) {
          bad.add(e.getKey().shortHex() + " missing");
        } else if (!have.equals(e.getKey().encoded())) {
          long size = image.size(blobs + "/" + e.getKey().encoded());
          bad.add(e.getKey().shortHex() + (size != e.getValue() ? " has " + size + " bytes, not " + e.getValue()
              : " is corrupt"));
        } else {
          bytes += e.getValue();
        }
      }
    } catch (IOException ex) {
      bad.add(ex.getMessage());
    }
    add("image blobs", bad.isEmpty(), cat.content().size() + " blobs intact (" + (bytes >> 20) + " MiB), metadata v"
        + cat.version(), String.join("; ", bad));
  }

  private void cloudInit() {
    String cfg = text("/etc/cloud/cloud.cfg.d/99_node_datasource.cfg");
    add("cloud-init datasources", cfg != null && cfg.contains("NoCloud") && cfg.contains("ConfigDrive"),
        "NoCloud and ConfigDrive", "the platform's datasource file is missing or lacks NoCloud/ConfigDrive");
  }

  private void selinux() {
    if (apt()) {
      return;
    }
    String cfg = text("/etc/selinux/config");
    add("selinux", cfg == null || cfg.lines().anyMatch(l -> l.trim().equals("SELINUX=permissive")),
        cfg == null ? "no SELinux" : "permissive", "not permissive");
    Units.State fw = unit("firewalld.service");
    add("firewalld", fw == Units.State.MASKED || fw == Units.State.MISSING, fw.name().toLowerCase(java.util.Locale.ROOT),
        "is " + fw.name().toLowerCase(java.util.Locale.ROOT) + ", must be masked");
  }

  private void hygiene() {
    String mid = text("/etc/machine-id");
    add("machine-id", mid != null && mid.isEmpty(), "empty (generated at first boot)",
        mid == null ? "missing" : "set: every node would share it");
    List<String> present = new ArrayList<>();
    try {
      for (String p : CleanupStep.mustBeAbsent()) {
        present.addAll(image.glob(p));
      }
    } catch (IOException e) {
      present.add(e.getMessage());
    }
    add("hygiene", present.isEmpty(), "no host keys, cloud-init state, leases, history, caches, build leftovers "
        + "or cluster material", "present: " + String.join(", ", present.subList(0, Math.min(12, present.size())))
        + (present.size() > 12 ? " and " + (present.size() - 12) + " more" : ""));
  }
}
