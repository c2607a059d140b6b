package io.hypervisor.assembler.plan;

import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.ContainerdLine;
import io.hypervisor.assembler.model.Distro;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.OsFamily;
import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.model.Problem;
import io.hypervisor.assembler.recipe.Recipe;
import io.hypervisor.assembler.recipe.Recipe.Role;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Turns a recipe into a {@link Plan} with the bill of materials: defaults by role and version,
 * the image set per role, the package set per OS family, the repositories, files and units.
 * Problems found here (unknown minor, unsupported containerd line …) carry the recipe position.
 */
public final class Planner {
  static final String PKGS_K8S = "https://pkgs.k8s.io/core:/stable:/v%s/%s/";
  static final String DOCKER_DOWNLOAD = "https://download.docker.com/linux/";
  /** Kubernetes package signing key (pkgs.k8s.io, "isv:kubernetes OBS Project"). */
  static final String K8S_KEY_FINGERPRINT = "DE15B14486CD377B9E876E1A234654DA9A296436";
  /** Docker's repository signing key. */
  static final String DOCKER_KEY_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";
  /**
   * Whether outputs are byte-identical (root file system rebuilt from its tree) unless the recipe
   * says otherwise; tree identity is always on. Chosen by the measured cost (README, "Reproducible builds").
   */
  public static final boolean REPRODUCIBLE_DEFAULT = true;
  static final String DEFAULT_PLATFORM_REGISTRY = "ghcr.io/hypervisor-io";
  static final String CCM_IMAGE = "cloud-controller-manager-hypervisor";
  static final String AUTOSCALER_IMAGE = "cluster-autoscaler-hypervisor";

  static final List<String> BASE_MODULES = List.of("overlay", "br_netfilter");
  static final Map<String, String> BASE_SYSCTL = map(
      "net.bridge.bridge-nf-call-iptables", "1",
      "net.bridge.bridge-nf-call-ip6tables", "1",
      "net.ipv4.ip_forward", "1",
      "fs.inotify.max_user_instances", "8192",
      "fs.inotify.max_user_watches", "524288");
  static final List<String> KUBE_PINNED = List.of("kubeadm", "kubelet", "kubectl");
  static final List<String> KUBE_REPO_EXCLUDE =
      List.of("kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni");
  static final List<String> APT_NODE_PACKAGES = List.of("cloud-init", "qemu-guest-agent",
      "openssh-server", "iptables", "nftables", "socat", "ipset", "conntrack", "ebtables", "jq", "yq",
      "curl", "wget", "openssl", "ca-certificates", "gnupg", "lsb-release", "apt-transport-https");
  static final List<String> DNF_NODE_PACKAGES = List.of("cloud-init", "qemu-guest-agent",
      "openssh-server", "iptables-nft", "nftables", "socat", "ipset", "conntrack-tools", "jq", "yq",
      "curl", "wget", "openssl", "ca-certificates", "gnupg2");

  private final KubernetesBom bom;

  public Planner(KubernetesBom bom) {
    this.bom = bom;
  }

  /** Plans a recipe; throws INPUT with every problem when it cannot be planned. */
  public Plan plan(Recipe recipe, List<Problem> readerWarnings) {
    List<Problem> problems = new ArrayList<>(readerWarnings);
    Plan plan = build(recipe, problems);
    List<Problem> errors = problems.stream().filter(Problem::isError).toList();
    if (!errors.isEmpty() || plan == null) {
      throw AssemblerException.input("cannot plan " + String.join(", ",
          recipe.sources().stream().map(Object::toString).toList()) + " (" + errors.size()
          + (errors.size() == 1 ? " problem)" : " problems)"), problems);
    }
    return plan;
  }

  private Plan build(Recipe r, List<Problem> problems) {
    Recipe.Kubernetes k = r.kubernetes();
    String minor = Versions.line(k.version());
    int patch = Integer.parseInt(k.version().substring(minor.length() + 1));
    KubernetesBom.Minor m = bom.minor(minor).orElse(null);
    if (m == null) {
      problems.add(Problem.error("kubernetes.version", r.position("kubernetes.version"),
          "Kubernetes " + minor + " is not in the bill of materials",
          "supported minors: " + String.join(", ", bom.minors())));
      return null;
    }
    String bomPatch = minor + "." + Math.min(patch, m.latestPatch());
    if (patch > m.latestPatch()) {
      problems.add(Problem.warning("kubernetes.version", r.position("kubernetes.version"),
          k.version() + " is newer than the bill of materials (latest known " + minor + "."
              + m.latestPatch() + "); its images are planned as for " + bomPatch,
          "confirm with: kubeadm config images list --kubernetes-version v" + k.version()));
    }
    if (m.endOfLife()) {
      problems.add(Problem.warning("kubernetes.version", r.position("kubernetes.version"),
          "Kubernetes " + minor + " is end of life", "plan a supported minor release"));
    }
    Distro distro = r.base().os();
    OsFamily family = distro.family();
    String arch = r.base().arch() == null ? "amd64" : r.base().arch();
    String name = r.name() != null ? r.name() : "hks-" + k.role().shortName() + "-" + k.version();

    KubernetesBom.KubeadmImages ki = bom.kubeadmImages(minor, patch);
    String pause = KubernetesBom.K8S_REGISTRY + "/pause:" + ki.pause();
    Plan.Containerd containerd = containerd(r, m, distro, pause, problems);
    String cniVersion = k.cni().version() != null ? k.cni().version() : m.cni().get(k.cni().name());
    List<Plan.PlannedImage> images = images(r, m, ki, cniVersion, problems);
    List<Plan.Repository> repositories = repositories(r, minor, distro, arch, containerd, problems);
    List<Plan.PlannedPackage> packages = packages(r, family, containerd);
    Map<String, List<Plan.Mirror>> mirrors = mirrors(r);
    List<Plan.PlannedFile> files = files(r, family, containerd, repositories, mirrors);
    // firewalld (dnf family) is the selinux-firewalld step's: present on AlmaLinux, absent on Rocky's
    // and Fedora's cloud images; that step masks it where it is and says which.
    Plan.Units units = new Plan.Units(List.of("containerd.service", "qemu-guest-agent.service"),
        List.of("kubelet.service"), List.of("swap.target"));
    List<String> steps = new ArrayList<>(List.of("repositories", "packages", "kernel", "swap"));
    if (family == OsFamily.DNF) {
      steps.add("selinux-firewalld");
    }
    steps.addAll(List.of("services", "containerd-config", "image-store", "cloud-init", "cleanup"));
    if (family == OsFamily.DNF) {
      steps.add("selinux-relabel");
    }
    steps.addAll(List.of("tree", "finish"));

    long disk = r.disk().sizeBytes() != null ? r.disk().sizeBytes()
        : (k.role() == Role.CONTROL_PLANE ? 20L : 40L) << 30;
    Plan.Output output = output(r, name, problems);
    Plan.Catalogue catalogue = catalogue(r, name, k, problems);

    Recipe.Base b = r.base();
    Plan.Base base = new Plan.Base(b.url(), b.path() == null ? null : b.path().toString(), b.sha256(),
        b.checksums() == null ? null : b.checksums().url(),
        b.checksums() == null ? null : b.checksums().signatureUrl(),
        b.checksums() == null || b.checksums().key() == null ? null : b.checksums().key().fingerprint(),
        b.checksums() == null || b.checksums().key() == null ? null : b.checksums().key().url(),
        b.checksums() == null || b.checksums().key() == null || b.checksums().key().path() == null ? null
            : b.checksums().key().path().toString(),
        distro.toString(), family.toString(), arch, Platform.linux(arch).toString());
    Plan.Kubernetes kube = new Plan.Kubernetes(k.version(), minor, k.role().word(), k.cni().name(),
        cniVersion, bomPatch);
    return new Plan(Plan.FORMAT_VERSION, name, r.sources().stream().map(Object::toString).toList(),
        base, kube, containerd, repositories, packages, images, mirrors, files, units, steps, disk,
        output, catalogue, r.images().archives().stream().map(a -> a.toAbsolutePath().toString()).toList(),
        problems.stream().filter(p -> !p.isError()).toList());
  }

  private Plan.Containerd containerd(Recipe r, KubernetesBom.Minor m, Distro distro, String pause,
      List<Problem> problems) {
    Recipe.Containerd c = r.containerd();
    String minor = Versions.line(r.kubernetes().version());
    String supported = String.join(", ", m.containerd().lines().entrySet().stream()
        .map(e -> e.getValue() + "+").toList());
    String line;
    String release = null;
    String source;
    if (c.source() == Recipe.Containerd.Source.DISTRO) {
      source = "distro";
      String v = bom.distroContainerd(distro.toString()).orElse(null);
      if (v == null) {
        problems.add(Problem.error("containerd.source", r.position("containerd.source"),
            distro + " has no containerd package of its own",
            "use containerd.source: containerd.io (Docker's repository)"));
        return null;
      }
      release = v;
      line = Versions.line(v);
      String floor = m.containerd().lines().get(line);
      if (floor == null || Versions.compare(v, floor) < 0) {
        problems.add(Problem.warning("containerd.source", r.position("containerd.source"),
            distro + "'s containerd " + v + " is below what Kubernetes " + minor + " supports ("
                + supported + ")", "use containerd.source: containerd.io for a supported release"));
      }
    } else {
      source = "containerd.io";
      String v = c.version();
      line = v == null ? m.containerd().defaultLine() : Versions.line(v);
      release = v != null && v.split("\\.").length == 3 ? v : null;
      String floor = m.containerd().lines().get(line);
      if (floor == null) {
        problems.add(Problem.error("containerd.version", r.position("containerd.version"),
            "containerd " + line + " is not supported for Kubernetes " + minor,
            "supported: " + supported));
        return null;
      }
      if (release != null && Versions.compare(release, floor) < 0) {
        problems.add(Problem.error("containerd.version", r.position("containerd.version"),
            "containerd " + release + " is below the supported floor " + floor + " for Kubernetes "
                + minor, "use " + floor + " or later, or name only the line (" + line + ")"));
      }
      if (release != null && m.containerd().avoid().contains(release)) {
        problems.add(Problem.error("containerd.version", r.position("containerd.version"),
            "containerd " + release + " is known broken for Kubernetes nodes",
            "pick another release of the " + line + " line"));
      }
    }
    ContainerdLine l = ContainerdLine.parse(line);
    return new Plan.Containerd(source, line, release, l.configVersion(), l.metadataVersion(), pause);
  }

  private List<Plan.PlannedImage> images(Recipe r, KubernetesBom.Minor m,
      KubernetesBom.KubeadmImages ki, String cniVersion, List<Problem> problems) {
    Recipe.Kubernetes k = r.kubernetes();
    String reg = KubernetesBom.K8S_REGISTRY;
    String v = "v" + k.version();
    List<Plan.PlannedImage> out = new ArrayList<>();
    if (k.role().controlPlane()) {
      out.add(new Plan.PlannedImage(reg + "/kube-apiserver:" + v, "kubeadm", false));
      out.add(new Plan.PlannedImage(reg + "/kube-controller-manager:" + v, "kubeadm", false));
      out.add(new Plan.PlannedImage(reg + "/kube-scheduler:" + v, "kubeadm", false));
    }
    out.add(new Plan.PlannedImage(reg + "/kube-proxy:" + v, "kubeadm", false));
    out.add(new Plan.PlannedImage(reg + "/coredns/coredns:" + ki.coredns(), "kubeadm", false));
    out.add(new Plan.PlannedImage(reg + "/pause:" + ki.pause(), "kubeadm", true));
    if (k.role().controlPlane()) {
      out.add(new Plan.PlannedImage(reg + "/etcd:" + ki.etcd(), "kubeadm", false));
    }
    try {
      for (String i : bom.cniImages(k.cni().name(), cniVersion)) {
        out.add(new Plan.PlannedImage(i, "cni " + k.cni().name(), false));
      }
    } catch (IllegalArgumentException e) {
      problems.add(Problem.error("kubernetes.cni", r.position("kubernetes.cni"), e.getMessage(),
          "use a release the bill of materials knows: "
              + String.join(", ", bom.knownCniReleases(k.cni().name()))));
    }
    out.add(new Plan.PlannedImage(reg + "/metrics-server/metrics-server:v" + m.metricsServer(),
        "metrics-server", false));
    Recipe.PlatformImages p = r.platform();
    if (k.role().controlPlane()) {
      out.add(new Plan.PlannedImage(component(p.ccm(), CCM_IMAGE, "latest"), "platform ccm", false));
    }
    if (k.role().worker()) {
      out.add(new Plan.PlannedImage(component(p.autoscaler(), AUTOSCALER_IMAGE, m.autoscaler()),
          "platform autoscaler", false));
    }
    Set<String> seen = new LinkedHashSet<>();
    out.forEach(i -> seen.add(i.ref()));
    for (ImageRef extra : r.images().extra()) {
      if (seen.add(extra.toString())) {
        out.add(new Plan.PlannedImage(extra.toString(), "recipe", false));
      }
    }
    return out;
  }

  private static String component(Recipe.ComponentImage c, String image, String tag) {
    String registry = c.registry() != null ? c.registry() : DEFAULT_PLATFORM_REGISTRY;
    return ImageRef.parse(registry.replaceAll("/+$", "") + "/"
        + (c.image() != null ? c.image() : image) + ":" + (c.tag() != null ? c.tag() : tag)).toString();
  }

  private List<Plan.Repository> repositories(Recipe r, String minor, Distro distro, String arch,
      Plan.Containerd containerd, List<Problem> problems) {
    OsFamily family = distro.family();
    Map<String, Recipe.Repository> overrides = new TreeMap<>();
    for (Recipe.Repository rr : r.repositories()) {
      overrides.put(rr.name(), rr);
    }
    List<Plan.Repository> out = new ArrayList<>();
    boolean apt = family == OsFamily.APT;
    String k8sUrl = PKGS_K8S.formatted(minor, apt ? "deb" : "rpm");
    out.add(builtin(overrides.get("kubernetes"), new Plan.Repository("kubernetes", family.toString(),
        k8sUrl, apt ? "/" : null, List.of(), null,
        k8sUrl + (apt ? "Release.key" : "repodata/repomd.xml.key"), null, K8S_KEY_FINGERPRINT,
        apt ? "/etc/apt/keyrings/kubernetes-apt-keyring.gpg" : "/etc/pki/rpm-gpg/RPM-GPG-KEY-kubernetes",
        apt ? "/etc/apt/sources.list.d/kubernetes.sources" : "/etc/yum.repos.d/kubernetes.repo",
        apt ? List.of() : KUBE_REPO_EXCLUDE)));
    if (containerd != null && containerd.source().equals("containerd.io")) {
      String os = switch (distro.id()) {
        case "ubuntu", "debian", "fedora", "rhel" -> distro.id();
        default -> "centos";
      };
      String dockerUrl = apt ? DOCKER_DOWNLOAD + os
          : DOCKER_DOWNLOAD + os + "/" + distro.major() + "/" + Platform.rpmArch(arch) + "/stable";
      if (apt && distro.codename() == null) {
        problems.add(Problem.error("base.os", r.position("base.os"), "no apt codename known for " + distro,
            "name a released version such as ubuntu-24.04"));
      }
      out.add(builtin(overrides.get("docker"), new Plan.Repository("docker", family.toString(),
          dockerUrl, apt ? distro.codename() : null, apt ? List.of("stable") : List.of(),
          apt ? arch : null, DOCKER_DOWNLOAD + os + "/gpg", null, DOCKER_KEY_FINGERPRINT,
          apt ? "/etc/apt/keyrings/docker.gpg" : "/etc/pki/rpm-gpg/RPM-GPG-KEY-docker",
          apt ? "/etc/apt/sources.list.d/docker.sources" : "/etc/yum.repos.d/docker-ce.repo",
          List.of())));
    } else if (overrides.containsKey("docker")) {
      problems.add(Problem.warning("repositories", r.position("repositories"),
          "the docker repository is not used (containerd.source is distro)", "remove the entry"));
    }
    for (Recipe.Repository rr : r.repositories()) {
      if (rr.name().equals("kubernetes") || rr.name().equals("docker")) {
        continue;
      }
      if (rr.type() != family) {
        problems.add(Problem.error("repositories", r.position("repositories"),
            "repository " + rr.name() + " is " + rr.type() + " but " + distro + " uses " + family,
            "set type: " + family));
        continue;
      }
      String url = rr.mirror() != null ? rr.mirror() : rr.url();
      out.add(new Plan.Repository(rr.name(), family.toString(), url, rr.suite(),
          rr.components().isEmpty() && rr.suite() != null && !rr.suite().equals("/")
              ? List.of("main") : rr.components(), null,
          rr.key().url(), rr.key().path() == null ? null : rr.key().path().toString(),
          rr.key().fingerprint(),
          apt ? "/etc/apt/keyrings/" + rr.name() + ".gpg" : "/etc/pki/rpm-gpg/RPM-GPG-KEY-" + rr.name(),
          apt ? "/etc/apt/sources.list.d/" + rr.name() + ".sources" : "/etc/yum.repos.d/" + rr.name() + ".repo",
          List.of()));
    }
    return out;
  }

  /** A built-in repository, with the recipe's mirror (and re-signing key, if any) applied. */
  private static Plan.Repository builtin(Recipe.Repository o, Plan.Repository r) {
    if (o == null) {
      return r;
    }
    String url = o.mirror() != null ? o.mirror() : r.url();
    String keyUrl = r.keyUrl();
    String keyPath = null;
    String fp = r.keyFingerprint();
    if (o.key() != null) {
      keyUrl = o.key().url();
      keyPath = o.key().path() == null ? null : o.key().path().toString();
      fp = o.key().fingerprint();
    } else if (o.mirror() != null) {
      keyUrl = keyUrl.replace(r.url(), url);
    }
    return new Plan.Repository(r.name(), r.family(), url, r.suite(), r.components(), r.architecture(),
        keyUrl, keyPath, fp, r.keyringPath(), r.definitionPath(), r.exclude());
  }

  private static List<Plan.PlannedPackage> packages(Recipe r, OsFamily family,
      Plan.Containerd containerd) {
    List<Plan.PlannedPackage> out = new ArrayList<>();
    String kubeVersion = r.kubernetes().version() + "-*";
    for (String p : KUBE_PINNED) {
      out.add(new Plan.PlannedPackage(p, kubeVersion, "kubernetes", "kubernetes " + r.kubernetes().version()));
    }
    out.add(new Plan.PlannedPackage("kubernetes-cni", null, "kubernetes", "kubelet dependency"));
    out.add(new Plan.PlannedPackage("cri-tools", null, "kubernetes", "crictl"));
    if (containerd != null && containerd.source().equals("containerd.io")) {
      String v = containerd.release() != null ? containerd.release() + "-*" : containerd.line() + ".*";
      out.add(new Plan.PlannedPackage("containerd.io", v, "docker", "container runtime (bundles runc)"));
    } else {
      out.add(new Plan.PlannedPackage("containerd", null, "distro", "container runtime"));
      out.add(new Plan.PlannedPackage("runc", null, "distro", "OCI runtime"));
    }
    for (String p : family == OsFamily.APT ? APT_NODE_PACKAGES : DNF_NODE_PACKAGES) {
      out.add(new Plan.PlannedPackage(p, null, "distro", "node"));
    }
    Set<String> names = new LinkedHashSet<>();
    out.forEach(p -> names.add(p.name()));
    for (PackageRef p : r.packages()) {
      if (names.add(p.name())) {
        out.add(new Plan.PlannedPackage(p.name(), p.version(), null, "recipe"));
      }
    }
    return out;
  }

  private static Map<String, List<Plan.Mirror>> mirrors(Recipe r) {
    Map<String, List<Plan.Mirror>> out = new TreeMap<>();
    r.mirrors().forEach((host, list) -> out.put(host, list.stream().map(m -> new Plan.Mirror(m.url(),
        m.capabilities(), m.ca() == null ? null : m.ca().toString(), m.skipVerify())).toList()));
    return out;
  }

  private static List<Plan.PlannedFile> files(Recipe r, OsFamily family, Plan.Containerd containerd,
      List<Plan.Repository> repositories, Map<String, List<Plan.Mirror>> mirrors) {
    List<Plan.PlannedFile> out = new ArrayList<>();
    for (Plan.Repository repo : repositories) {
      out.add(new Plan.PlannedFile(repo.keyringPath(), "0644", null,
          "key of repository " + repo.name() + " (" + repo.keyFingerprint() + ")"
              + (family == OsFamily.APT ? ", dearmored" : "")));
      out.add(new Plan.PlannedFile(repo.definitionPath(), "0644", family == OsFamily.APT
          ? NodeFiles.aptSource(repo)
          : NodeFiles.dnfRepo(repo, repo.name().equals("kubernetes") ? "Kubernetes"
              : repo.name().equals("docker") ? "Docker CE Stable" : repo.name()), null));
    }
    List<String> modules = new ArrayList<>(BASE_MODULES);
    r.modules().stream().filter(mod -> !modules.contains(mod)).forEach(modules::add);
    out.add(new Plan.PlannedFile("/etc/modules-load.d/k8s.conf", "0644", NodeFiles.modules(modules), null));
    Map<String, String> sysctl = new LinkedHashMap<>(BASE_SYSCTL);
    sysctl.putAll(r.sysctl());
    out.add(new Plan.PlannedFile("/etc/sysctl.d/99-kubernetes.conf", "0644", NodeFiles.sysctl(sysctl), null));
    if (containerd != null) {
      out.add(new Plan.PlannedFile(NodeFiles.CONTAINERD_CONFIG, "0644",
          NodeFiles.containerdConfig(containerd.configVersion(), containerd.sandboxImage()), null));
    }
    for (var e : mirrors.entrySet()) {
      String dir = NodeFiles.CERTS_D + "/" + e.getKey();
      List<Plan.Mirror> inImage = new ArrayList<>();
      for (int i = 0; i < e.getValue().size(); i++) {
        Plan.Mirror m = e.getValue().get(i);
        String ca = null;
        if (m.ca() != null) {
          ca = dir + "/mirror-" + i + "-ca.crt";
          out.add(new Plan.PlannedFile(ca, "0644", null, "CA file " + m.ca()));
        }
        inImage.add(new Plan.Mirror(m.url(), m.capabilities(), ca, m.skipVerify()));
      }
      out.add(new Plan.PlannedFile(dir + "/hosts.toml", "0644", NodeFiles.hostsToml(e.getKey(), inImage), null));
    }
    out.add(new Plan.PlannedFile("/etc/crictl.yaml", "0644", NodeFiles.crictl(), null));
    out.add(new Plan.PlannedFile("/etc/cloud/cloud.cfg.d/99_node_datasource.cfg", "0644",
        NodeFiles.cloudInitDatasources(), null));
    return out;
  }

  private static Plan.Output output(Recipe r, String name, List<Problem> problems) {
    Recipe.Output o = r.output();
    String qemu = r.catalogue().hypervisorQemu();
    boolean oldQemu = qemu != null && Versions.compare(qemu, "5.1") < 0;
    String compression = o.compression();
    if (compression == null) {
      compression = oldQemu ? "zlib" : "zstd";
    } else if (compression.equals("zstd") && oldQemu) {
      problems.add(Problem.error("output.compression", r.position("output.compression"),
          "zstd-compressed qcow2 cannot be opened by qemu " + qemu + " (zstd needs qemu 5.1 or later)",
          "use compression: zlib, or leave it out to get zlib automatically"));
    }
    String path = o.path() != null ? o.path().toString() : "out/" + name + ".qcow2";
    return new Plan.Output(path, o.format() == null ? "qcow2" : o.format(), compression,
        o.reproducible() == null ? REPRODUCIBLE_DEFAULT : o.reproducible(), o.vagrant(), o.publish());
  }

  private static Plan.Catalogue catalogue(Recipe r, String name, Recipe.Kubernetes k,
      List<Problem> problems) {
    Recipe.Catalogue c = r.catalogue();
    String purpose = k.role() == Role.WORKER ? "Kubernetes Worker" : "Kubernetes Control Plane";
    if (c.purpose() != null && !c.purpose().equals(purpose)) {
      problems.add(Problem.error("catalogue.purpose", r.position("catalogue.purpose"),
          "purpose \"" + c.purpose() + "\" does not match role " + k.role().word(),
          "leave it out: the role decides (" + purpose + ")"));
    }
    String title = switch (k.role()) {
      case CONTROL_PLANE -> "HKS Control Plane ";
      case WORKER -> "HKS Worker ";
      case COMBINED -> "HKS Combined ";
    };
    return new Plan.Catalogue(c.name() != null ? c.name() : title + k.version(), name, purpose,
        c.defaultInterface() != null ? c.defaultInterface() : "virtio",
        c.cloudinit() == null || c.cloudinit(), c.isPublic() != null && c.isPublic(),
        c.enabled() == null || c.enabled());
  }

  private static Map<String, String> map(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }
}
