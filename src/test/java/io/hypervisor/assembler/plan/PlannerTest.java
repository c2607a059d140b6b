package io.hypervisor.assembler.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Problem;
import io.hypervisor.assembler.recipe.RecipeReader;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PlannerTest {
  static final Planner PLANNER = new Planner(KubernetesBom.load());

  static Plan plan(String yaml, String... sets) {
    RecipeReader.Result r = new RecipeReader(Map.of(), List.of(sets)).readText(yaml, "test.yaml");
    return PLANNER.plan(r.recipe(), r.warnings());
  }

  static String recipe(String os, String version, String role) {
    return """
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        base: {path: base.qcow2, os: %s}
        kubernetes: {version: "%s", role: %s}
        """.formatted(os, version, role);
  }

  static List<String> images(Plan p) {
    return p.images().stream().map(Plan.PlannedImage::ref).toList();
  }

  @Test
  void workerImagesFollowThePlatformTable() {
    assertEquals(List.of(
        "registry.k8s.io/kube-proxy:v1.34.2",
        "registry.k8s.io/coredns/coredns:v1.12.1",
        "registry.k8s.io/pause:3.10.1",
        "quay.io/cilium/cilium:v1.19.3",
        "quay.io/cilium/operator-generic:v1.19.3",
        "quay.io/cilium/cilium-envoy:v1.36.6-1776000132-2437d2edeaf4d9b56ef279bd0d71127440c067aa",
        "registry.k8s.io/metrics-server/metrics-server:v0.9.0",
        "ghcr.io/hypervisor-io/cluster-autoscaler-hypervisor:v1.34.1"),
        images(plan(recipe("debian-12", "1.34.2", "worker"))));
  }

  @Test
  void controlPlaneGetsKubeadmControlPlaneImagesAndTheCcmButNoAutoscaler() {
    List<String> cp = images(plan(recipe("debian-12", "1.34.2", "cp")));
    assertTrue(cp.containsAll(List.of("registry.k8s.io/kube-apiserver:v1.34.2",
        "registry.k8s.io/kube-controller-manager:v1.34.2", "registry.k8s.io/kube-scheduler:v1.34.2",
        "registry.k8s.io/etcd:3.6.5-0", "ghcr.io/hypervisor-io/cloud-controller-manager-hypervisor:latest")), cp.toString());
    assertFalse(cp.stream().anyMatch(i -> i.contains("autoscaler")));
    List<String> combined = images(plan(recipe("debian-12", "1.34.2", "combined")));
    assertTrue(combined.containsAll(cp));
    assertTrue(combined.contains("ghcr.io/hypervisor-io/cluster-autoscaler-hypervisor:v1.34.1"));
  }

  @Test
  void platformImageOverridesApply() {
    Plan p = plan(recipe("debian-12", "1.34.2", "combined"), "platform.ccm.registry=registry.site:5000/hv",
        "platform.ccm.tag=v2.0.1", "platform.autoscaler.tag=v1.34.9");
    assertTrue(images(p).contains("registry.site:5000/hv/cloud-controller-manager-hypervisor:v2.0.1"));
    assertTrue(images(p).contains("ghcr.io/hypervisor-io/cluster-autoscaler-hypervisor:v1.34.9"));
  }

  @Test
  void calicoAndFlannel() {
    Plan calico = plan(recipe("debian-12", "1.34.2", "worker"), "kubernetes.cni=calico");
    assertTrue(images(calico).containsAll(List.of("quay.io/calico/node:v3.31.2",
        "quay.io/calico/cni:v3.31.2", "quay.io/calico/kube-controllers:v3.31.2")));
    assertTrue(images(calico).stream().noneMatch(i -> i.contains("cilium")), images(calico).toString());
    Plan flannel = plan(recipe("debian-12", "1.36.1", "worker"), "kubernetes.cni=flannel");
    assertTrue(images(flannel).contains("ghcr.io/flannel-io/flannel-cni-plugin:v1.8.0-flannel1"));
  }

  @Test
  void aptPackageSetWithPinnedKubernetesAndContainerdIo() {
    Plan p = plan(recipe("debian-12", "1.34.2", "worker"));
    Map<String, String> pk = p.packages().stream().collect(Collectors.toMap(Plan.PlannedPackage::name,
        x -> x.version() == null ? "" : x.version()));
    assertEquals("1.34.2-*", pk.get("kubelet"));
    assertEquals("1.34.2-*", pk.get("kubeadm"));
    assertEquals("1.34.2-*", pk.get("kubectl"));
    assertEquals("2.2.*", pk.get("containerd.io"));
    assertTrue(pk.keySet().containsAll(List.of("kubernetes-cni", "cri-tools", "cloud-init", "qemu-guest-agent",
        "openssh-server", "iptables", "nftables", "socat", "ipset", "conntrack", "ebtables", "jq", "yq",
        "curl", "wget", "openssl", "ca-certificates", "gnupg", "lsb-release", "apt-transport-https")));
    assertFalse(pk.containsKey("runc"), "containerd.io bundles runc");
  }

  @Test
  void dnfPackageSetAndRepositories() {
    Plan p = plan(recipe("rocky-9", "1.36.1", "worker"));
    List<String> names = p.packages().stream().map(Plan.PlannedPackage::name).toList();
    assertTrue(names.containsAll(List.of("iptables-nft", "conntrack-tools", "gnupg2")));
    assertFalse(names.contains("ebtables"));
    assertFalse(names.contains("lsb-release"));
    Plan.Repository k8s = p.repositories().get(0);
    assertEquals("https://pkgs.k8s.io/core:/stable:/v1.36/rpm/", k8s.url());
    assertEquals(List.of("kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni"), k8s.exclude());
    assertEquals("https://download.docker.com/linux/centos/9/x86_64/stable", p.repositories().get(1).url());
    String repo = file(p, "/etc/yum.repos.d/kubernetes.repo");
    assertTrue(repo.contains("exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni"), repo);
    // firewalld is the selinux-firewalld step's (present on AlmaLinux, absent on Rocky): not a plan unit
    // the verify would then require disabled and masked at once
    assertFalse(p.units().mask().contains("firewalld.service"));
    assertFalse(p.units().disable().contains("firewalld.service"));
    assertTrue(p.steps().contains("selinux-firewalld"));
  }

  /**
   * Every supported rpm-family base plans the dnf path: the Kubernetes .repo with its excludes, the
   * Docker repository of its family (EL rebuilds take the centos one), the SELinux steps, EL's
   * package names; each base's own os names its containerd.io repository path.
   */
  @Test
  void everyRpmFamilyBasePlansTheDnfPath() {
    Map<String, String> dockerPath = Map.of("rocky-9", "/linux/centos/9/x86_64/stable",
        "almalinux-9", "/linux/centos/9/x86_64/stable", "centos-stream-9", "/linux/centos/9/x86_64/stable",
        "centos-stream-10", "/linux/centos/10/x86_64/stable", "rhel-9", "/linux/rhel/9/x86_64/stable",
        "fedora-40", "/linux/fedora/40/x86_64/stable", "fedora-41", "/linux/fedora/41/x86_64/stable");
    for (Map.Entry<String, String> e : new java.util.TreeMap<>(dockerPath).entrySet()) {
      Plan p = plan(recipe(e.getKey(), "1.34.2", "worker"));
      assertEquals("dnf", p.base().family(), e.getKey());
      assertEquals(List.of("dnf", "dnf"), p.repositories().stream().map(Plan.Repository::family).toList(), e.getKey());
      assertTrue(p.repositories().get(0).url().endsWith("/core:/stable:/v1.34/rpm/"), e.getKey());
      assertTrue(p.repositories().get(1).url().endsWith(e.getValue()), e.getKey() + ": " + p.repositories().get(1));
      assertTrue(file(p, "/etc/yum.repos.d/kubernetes.repo").contains(
          "exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni"), e.getKey());
      assertTrue(p.steps().containsAll(List.of("repositories", "packages", "selinux-firewalld", "selinux-relabel")),
          e.getKey() + ": " + p.steps());
      assertTrue(p.steps().indexOf("selinux-relabel") > p.steps().indexOf("cleanup"), "relabel last: " + p.steps());
      List<String> names = p.packages().stream().map(Plan.PlannedPackage::name).toList();
      assertTrue(names.containsAll(List.of("kubelet", "kubeadm", "kubectl", "containerd.io", "conntrack-tools",
          "iptables-nft", "qemu-guest-agent")), e.getKey() + ": " + names);
    }
  }

  @Test
  void distroContainerdWarnsBelowTheFloorAndIsImpossibleOnRhel() {
    Plan p = plan(recipe("debian-12", "1.34.2", "worker"), "containerd.source=distro");
    assertTrue(p.warnings().stream().anyMatch(w -> w.message().contains("containerd 1.6.20 is below")),
        p.warnings().toString());
    assertEquals(2, p.containerd().configVersion());
    assertEquals(3, p.containerd().metadataVersion());
    assertTrue(p.packages().stream().anyMatch(x -> x.name().equals("runc")));
    assertTrue(p.repositories().stream().noneMatch(r -> r.name().equals("docker")));
    AssemblerException e = assertThrows(AssemblerException.class,
        () -> plan(recipe("rocky-9", "1.34.2", "worker"), "containerd.source=distro"));
    assertTrue(e.problems().get(0).message().contains("has no containerd package"));
  }

  @Test
  void unsupportedContainerdLinesAndReleases() {
    String all = messages(assertThrows(AssemblerException.class,
        () -> plan(recipe("debian-12", "1.36.1", "worker"), "containerd.version=1.7")));
    assertTrue(all.contains("containerd 1.7 is not supported for Kubernetes 1.36"), all);
    assertTrue(all.contains("supported: "), all);
    all = messages(assertThrows(AssemblerException.class,
        () -> plan(recipe("debian-12", "1.34.2", "worker"), "containerd.version=2.1.2")));
    assertTrue(all.contains("below the supported floor 2.1.3"), all);
    all = messages(assertThrows(AssemblerException.class,
        () -> plan(recipe("debian-12", "1.36.1", "worker"), "containerd.version=2.3.5")));
    assertTrue(all.contains("known broken"), all);
  }

  @Test
  void unknownMinorIsAnErrorListingSupportedOnes() {
    AssemblerException e = assertThrows(AssemblerException.class,
        () -> plan(recipe("debian-12", "1.29.4", "worker")));
    Problem p = e.problems().get(0);
    assertEquals("kubernetes.version", p.path());
    assertEquals(4, p.position().line());
    assertTrue(p.hint().contains("1.30, 1.31, 1.32, 1.33, 1.34, 1.35, 1.36"), p.hint());
  }

  @Test
  void newerPatchThanTheTableWarnsWithHowToConfirm() {
    Plan p = plan(recipe("debian-12", "1.34.12", "cp"));
    Problem w = p.warnings().get(0);
    assertTrue(w.message().contains("newer than the bill of materials (latest known 1.34.11)"), w.message());
    assertEquals("confirm with: kubeadm config images list --kubernetes-version v1.34.12", w.hint());
    assertTrue(images(p).contains("registry.k8s.io/kube-apiserver:v1.34.12"));
    assertEquals("1.34.11", p.kubernetes().bomPatch());
  }

  @Test
  void defaultsByRole() {
    Plan w = plan(recipe("debian-12", "1.34.2", "worker"));
    assertEquals(40L << 30, w.diskBytes());
    assertEquals("hks-worker-1.34.2", w.name());
    assertEquals("out/hks-worker-1.34.2.qcow2", w.output().path());
    assertEquals("zstd", w.output().compression());
    assertEquals(new Plan.Catalogue("HKS Worker 1.34.2", "hks-worker-1.34.2", "Kubernetes Worker", "virtio",
        true, false, true), w.catalogue());
    Plan cp = plan(recipe("debian-12", "1.34.2", "control-plane"));
    assertEquals(20L << 30, cp.diskBytes());
    assertEquals("hks-cp-1.34.2", cp.name());
    assertEquals("Kubernetes Control Plane", cp.catalogue().purpose());
  }

  @Test
  void outputsBesideTheImage() {
    Plan p = plan(recipe("debian-12", "1.34.2", "worker"), "output.vagrant=libvirt",
        "output.publish=registry.example.org/kubevirt/node:1.34.2", "output.reproducible=false");
    assertEquals("libvirt", p.output().vagrant());
    assertEquals("registry.example.org/kubevirt/node:1.34.2", p.output().publish());
    assertFalse(p.output().reproducible());
    assertTrue(PlanPrinter.text(p).contains("vagrant box"), PlanPrinter.text(p));
    assertEquals(p, PlanPrinter.readJson(PlanPrinter.json(p)), "round trip");
    Plan d = plan(recipe("debian-12", "1.34.2", "worker"));
    assertTrue(d.output().reproducible(), "byte identity is the default");
    assertEquals(null, d.output().vagrant());
    String all = messages(assertThrows(AssemblerException.class, () -> plan(recipe("debian-12", "1.34.2", "worker"),
        "output.vagrant=virtualbox")));
    assertTrue(all.contains("output.vagrant"), all);
  }

  @Test
  void oldHypervisorQemuMeansZlib() {
    assertEquals("zlib", plan(recipe("debian-12", "1.34.2", "worker"), "catalogue.hypervisorQemu=4.2")
        .output().compression());
    String all = messages(assertThrows(AssemblerException.class, () -> plan(recipe("debian-12", "1.34.2", "worker"),
        "catalogue.hypervisorQemu=4.2", "output.compression=zstd")));
    assertTrue(all.contains("needs qemu 5.1"), all);
    all = messages(assertThrows(AssemblerException.class, () -> plan(recipe("debian-12", "1.34.2", "worker"),
        "catalogue.purpose=Kubernetes Control Plane")));
    assertTrue(all.contains("does not match role worker"), all);
  }

  @Test
  void kernelAndSysctlFilesWithRecipeExtras() {
    Plan p = plan(recipe("debian-12", "1.34.2", "worker"), "modules=[ip_vs, overlay]",
        "sysctl={vm.max_map_count: \"262144\", net.ipv4.ip_forward: \"1\"}");
    assertEquals("# Kernel modules Kubernetes needs (written by assemble).\noverlay\nbr_netfilter\nip_vs\n",
        file(p, "/etc/modules-load.d/k8s.conf"));
    String sysctl = file(p, "/etc/sysctl.d/99-kubernetes.conf");
    for (String line : List.of("net.bridge.bridge-nf-call-iptables = 1", "net.bridge.bridge-nf-call-ip6tables = 1",
        "net.ipv4.ip_forward = 1", "fs.inotify.max_user_watches = 524288", "vm.max_map_count = 262144")) {
      assertTrue(sysctl.contains(line + "\n"), sysctl);
    }
    assertEquals(1, sysctl.split("net.ipv4.ip_forward").length - 1, "no duplicate keys");
  }

  @Test
  void containerdConfigParsesAsTomlWithCriOnAndSystemdCgroups() throws Exception {
    TomlMapper toml = new TomlMapper();
    JsonNode v3 = toml.readTree(file(plan(recipe("debian-12", "1.34.2", "worker")), "/etc/containerd/config.toml"));
    assertEquals(3, v3.get("version").asInt());
    assertEquals(0, v3.get("disabled_plugins").size());
    JsonNode images = v3.get("plugins").get("io.containerd.cri.v1.images");
    assertEquals("registry.k8s.io/pause:3.10.1", images.get("pinned_images").get("sandbox").asText());
    assertEquals("/etc/containerd/certs.d", images.get("registry").get("config_path").asText());
    assertTrue(v3.get("plugins").get("io.containerd.cri.v1.runtime").get("containerd").get("runtimes")
        .get("runc").get("options").get("SystemdCgroup").asBoolean());

    JsonNode v2 = toml.readTree(file(plan(recipe("debian-12", "1.34.2", "worker"), "containerd.version=1.7"),
        "/etc/containerd/config.toml"));
    assertEquals(2, v2.get("version").asInt());
    JsonNode cri = v2.get("plugins").get("io.containerd.grpc.v1.cri");
    assertEquals("registry.k8s.io/pause:3.10.1", cri.get("sandbox_image").asText());
    assertTrue(cri.get("containerd").get("runtimes").get("runc").get("options").get("SystemdCgroup").asBoolean());
  }

  @Test
  void mirrorsBecomeHostsToml() throws Exception {
    Plan p = plan(recipe("debian-12", "1.34.2", "worker"), "mirrors={registry.k8s.io: [http://127.0.0.1:5000], "
        + "docker.io: [{url: https://mirror.site, capabilities: [pull], skipVerify: true}]}");
    JsonNode k8s = new TomlMapper().readTree(file(p, "/etc/containerd/certs.d/registry.k8s.io/hosts.toml"));
    assertEquals("https://registry.k8s.io", k8s.get("server").asText());
    assertEquals("[\"pull\",\"resolve\"]", k8s.get("host").get("http://127.0.0.1:5000").get("capabilities").toString());
    JsonNode hub = new TomlMapper().readTree(file(p, "/etc/containerd/certs.d/docker.io/hosts.toml"));
    assertEquals("https://registry-1.docker.io", hub.get("server").asText());
    assertTrue(hub.get("host").get("https://mirror.site").get("skip_verify").asBoolean());
  }

  @Test
  void aptRepositoryDefinitionsAndBuiltinMirrors() {
    Plan p = plan(recipe("ubuntu-24.04", "1.34.2", "worker"),
        "repositories=[{name: kubernetes, mirror: http://127.0.0.1:8080/k8s/}]");
    assertEquals("Types: deb\nURIs: http://127.0.0.1:8080/k8s/\nSuites: /\n"
        + "Signed-By: /etc/apt/keyrings/kubernetes-apt-keyring.gpg\n", file(p, "/etc/apt/sources.list.d/kubernetes.sources"));
    assertEquals("http://127.0.0.1:8080/k8s/Release.key", p.repositories().get(0).keyUrl());
    assertEquals("Types: deb\nURIs: https://download.docker.com/linux/ubuntu\nSuites: noble\nComponents: stable\n"
        + "Architectures: amd64\nSigned-By: /etc/apt/keyrings/docker.gpg\n", file(p, "/etc/apt/sources.list.d/docker.sources"));
    assertTrue(file(p, "/etc/cloud/cloud.cfg.d/99_node_datasource.cfg")
        .contains("datasource_list: [ NoCloud, ConfigDrive, None ]"));
    assertTrue("99_node_datasource.cfg".compareTo("90_dpkg.cfg") > 0, "sorts after the distro's own");
  }

  @Test
  void plansAreDeterministicAndRoundTripThroughJson() {
    String y = recipe("debian-12", "1.34.2", "combined");
    String a = PlanPrinter.json(plan(y));
    assertEquals(a, PlanPrinter.json(plan(y)));
    assertEquals(a, PlanPrinter.json(PlanPrinter.readJson(a)));
  }

  static String file(Plan p, String path) {
    return p.files().stream().filter(f -> f.path().equals(path)).findFirst()
        .orElseThrow(() -> new AssertionError("no file " + path)).content();
  }

  static String messages(AssemblerException e) {
    return String.join("\n", e.problems().stream().map(Problem::render).toList());
  }
}
