package io.hypervisor.assembler.pkgrepo.apt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.PackageRef;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import io.hypervisor.assembler.pkgrepo.Resolver;
import io.hypervisor.assembler.pkgrepo.Universe;
import org.junit.jupiter.api.Test;

/** The resolver on small hand-made repositories, as apt would decide. */
class AptResolverTest {
  static final AptRepository DISTRO = new AptRepository("debian bookworm", "http://mirror/debian", "bookworm",
      List.of("main"), List.of("amd64"), null, "image /etc/apt/sources.list.d/debian.sources");
  static final AptRepository K8S = new AptRepository("kubernetes", "http://k8s/deb/", "/", List.of(), List.of("amd64"),
      null, "recipe");

  static Universe universe(String distro, String k8s) throws IOException {
    Universe u = new Universe(DebVersion.SCHEME, Set.of("amd64", "all"));
    PackagesIndex.parse(new ByteArrayInputStream(distro.getBytes(StandardCharsets.UTF_8)), DISTRO, "amd64", u::add);
    PackagesIndex.parse(new ByteArrayInputStream(k8s.getBytes(StandardCharsets.UTF_8)), K8S, "amd64", u::add);
    return u;
  }

  static String pkg(String name, String version, String... fields) {
    StringBuilder b = new StringBuilder("Package: " + name + "\nVersion: " + version + "\nArchitecture: amd64\n");
    for (String f : fields) {
      b.append(f).append('\n');
    }
    b.append("Filename: pool/").append(name).append('_').append(version).append("_amd64.deb\nSize: 100\nSHA256: ")
        .append("0".repeat(64)).append("\n\n");
    return b.toString();
  }

  static List<Candidate> status(String... stanzas) throws IOException {
    StringBuilder b = new StringBuilder();
    for (String s : stanzas) {
      b.append(s.replace("Architecture: amd64\n", "Architecture: amd64\nStatus: install ok installed\n"));
    }
    return PackagesIndex.installed(b.toString().getBytes(StandardCharsets.UTF_8), "amd64");
  }

  static Resolver.Request req(String ref, String repo) {
    return new Resolver.Request(PackageRef.parse(ref), repo, "plan");
  }

  static List<String> ids(Resolver.Resolution r) {
    return r.install().stream().map(Candidate::id).toList();
  }

  static final String DISTRO_INDEX = pkg("libc6", "2.36-9+deb12u14")
      + pkg("iptables", "1.8.9-2", "Depends: libc6 (>= 2.34), libip4tc2 (= 1.8.9-2) | libiptc-legacy")
      + pkg("libip4tc2", "1.8.9-2", "Depends: libc6")
      + pkg("socat", "1.7.4.4-2", "Depends: libc6, libssl3 (>= 3.0.0)")
      + pkg("libssl3", "3.0.17-1~deb12u2", "Depends: libc6")
      + pkg("ethtool", "1:6.1-1")
      + pkg("mawk", "1.3.4.20200120-3.1", "Provides: awk")
      + pkg("needs-awk", "1.0", "Depends: awk")
      + pkg("conntrack", "1:1.4.7-1+b2", "Pre-Depends: libc6 (>= 2.34)")
      + pkg("runc", "1.1.5+ds1-1+deb12u1", "Depends: libc6, libseccomp2 (>= 2.5.0)")
      + pkg("libseccomp2", "2.5.4-1+deb12u1", "Depends: libc6")
      + pkg("containerd", "1.6.20~ds1-1+deb12u1", "Depends: runc (>= 1.0.0~rc2~)")
      + pkg("docker-runc", "1.0", "Conflicts: runc", "Provides: runc");

  static final String K8S_INDEX = pkg("kubelet", "1.34.1-1.1", "Depends: iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0)")
      + pkg("kubelet", "1.34.2-1.1", "Depends: iptables (>= 1.4.21), kubernetes-cni (>= 1.2.0), socat, ethtool")
      + pkg("kubernetes-cni", "1.7.1-1.1")
      + pkg("kubeadm", "1.34.2-1.1");

  @Test
  void pinsTheRequestedPatchAndPullsItsClosureInDependencyOrder() throws IOException {
    Resolver.Resolution r = new Resolver(universe(DISTRO_INDEX, K8S_INDEX), status(pkg("libc6", "2.36-9+deb12u14")))
        .resolve(List.of(req("kubelet=1.34.2-*", "kubernetes"), req("kubeadm=1.34.2-*", "kubernetes")));
    assertTrue(r.ok(), r.problems().toString());
    List<String> ids = ids(r);
    assertEquals(List.of("libip4tc2=1.8.9-2", "iptables=1.8.9-2", "kubernetes-cni=1.7.1-1.1", "libssl3=3.0.17-1~deb12u2",
        "socat=1.7.4.4-2", "ethtool=1:6.1-1", "kubelet=1.34.2-1.1", "kubeadm=1.34.2-1.1"), ids,
        "dependencies first; libc6 is already installed; the first alternative wins");
    assertEquals(ids, ids(new Resolver(universe(DISTRO_INDEX, K8S_INDEX), status(pkg("libc6", "2.36-9+deb12u14")))
        .resolve(List.of(req("kubelet=1.34.2-*", "kubernetes"), req("kubeadm=1.34.2-*", "kubernetes")))), "deterministic");
  }

  @Test
  void theRepositoryHintIsRespected() throws IOException {
    Resolver.Resolution r = new Resolver(universe(DISTRO_INDEX, K8S_INDEX), List.of())
        .resolve(List.of(req("kubelet", "distro")));
    assertTrue(r.problems().get(0).contains("kubelet (plan) cannot be installed: the configured repositories have "
        + "1.34.2-1.1 from kubernetes, 1.34.1-1.1 from kubernetes (none from distro)"), r.problems().toString());
  }

  @Test
  void virtualPackagesAndInstalledProviders() throws IOException {
    Universe u = universe(DISTRO_INDEX, K8S_INDEX);
    assertEquals(List.of("mawk=1.3.4.20200120-3.1", "needs-awk=1.0"),
        ids(new Resolver(u, List.of()).resolve(List.of(req("needs-awk", null)))));
    assertEquals(List.of("needs-awk=1.0"), ids(new Resolver(u, status(pkg("mawk", "1.3.4.20200120-3.1",
        "Provides: awk"))).resolve(List.of(req("needs-awk", null)))), "an installed provider satisfies it");
  }

  @Test
  void installedPackagesThatAreTooOldAreUpgradedWithTheirDependents() throws IOException {
    String distro = DISTRO_INDEX + pkg("libfoo1", "2.0-1") + pkg("foo-tools", "2.0-1", "Depends: libfoo1 (= 2.0-1)")
        + pkg("needs-new-foo", "1.0", "Depends: libfoo1 (>= 2.0)");
    Resolver.Resolution r = new Resolver(universe(distro, ""), status(pkg("libfoo1", "1.0-1"),
        pkg("foo-tools", "1.0-1", "Depends: libfoo1 (= 1.0-1)"))).resolve(List.of(req("needs-new-foo", null)));
    assertTrue(r.ok(), r.problems().toString());
    assertEquals(List.of("libfoo1=2.0-1", "needs-new-foo=1.0", "foo-tools=2.0-1"), ids(r),
        "libfoo1 is upgraded, and foo-tools with it, since it pins the old version");
  }

  @Test
  void conflictsAreRefused() throws IOException {
    Resolver.Resolution r = new Resolver(universe(DISTRO_INDEX, ""), List.of())
        .resolve(List.of(req("containerd", null), req("docker-runc", null)));
    assertTrue(r.problems().stream().anyMatch(p -> p.startsWith("docker-runc 1.0 conflicts with runc")), r.problems().toString());
  }

  @Test
  void failuresExplainTheChain() throws IOException {
    Resolver.Resolution r = new Resolver(universe(DISTRO_INDEX, pkg("kubelet", "1.34.2-1.1",
        "Depends: kubernetes-cni (>= 1.2.0)") + pkg("kubernetes-cni", "1.1.0-1.1")), List.of())
        .resolve(List.of(req("kubelet=1.34.2-*", "kubernetes")));
    assertEquals(List.of("kubelet 1.34.2-1.1 depends on kubernetes-cni (>= 1.2.0); the configured repositories have "
        + "only kubernetes-cni 1.1.0-1.1 (kubelet is needed because requested: plan)"), r.problems());
    Resolver.Resolution none = new Resolver(universe(DISTRO_INDEX, pkg("kubelet", "1.34.2-1.1",
        "Depends: kubernetes-cni (>= 1.2.0)")), List.of()).resolve(List.of(req("kubelet=1.34.2-*", "kubernetes")));
    assertTrue(none.problems().get(0).contains("depends on kubernetes-cni (>= 1.2.0); the configured repositories have "
        + "none"), none.problems().toString());
  }

  @Test
  void nothingIsAddedThatTheImageAlreadySatisfies() throws IOException {
    List<Candidate> installed = new ArrayList<>(status(pkg("libc6", "2.36-9+deb12u14"), pkg("libssl3", "3.0.17-1~deb12u2"),
        pkg("socat", "1.7.4.4-2")));
    Resolver.Resolution r = new Resolver(universe(DISTRO_INDEX, K8S_INDEX), installed)
        .resolve(List.of(req("socat", null), req("conntrack", null)));
    assertEquals(List.of("conntrack=1:1.4.7-1+b2"), ids(r));
  }

  @Test
  void aNewerInstalledVersionIsKeptUnlessThePlanPinsAnother() throws IOException {
    List<Candidate> installed = status(pkg("libc6", "2.36-9+deb12u14"), pkg("socat", "1.7.4.4-3"));
    assertEquals(List.of(), ids(new Resolver(universe(DISTRO_INDEX, K8S_INDEX), installed)
        .resolve(List.of(req("socat", null)))), "no downgrade to the repository's older socat");
    assertEquals(List.of("libssl3=3.0.17-1~deb12u2", "socat=1.7.4.4-2"), ids(new Resolver(universe(DISTRO_INDEX, K8S_INDEX),
        installed).resolve(List.of(req("socat=1.7.4.4-2", null)))), "an explicit pin is honoured");
  }

  @Test
  void relationsParse() {
    Relations rel = new Relations("amd64", new java.util.HashMap<>());
    List<Dependency> r = rel.dependencies("libc6 (>= 2.34), python3:any, foo [amd64] | bar [arm64], baz <!nocheck>");
    assertEquals(List.of("libc6 (>= 2.34)", "python3", "foo", "baz"),
        r.stream().map(d -> d.describe(DebVersion.SCHEME)).toList());
    assertTrue(r.get(0).anyOf().get(0).accepts("2.36-9", DebVersion.SCHEME));
    assertTrue(!r.get(0).anyOf().get(0).accepts("2.31-13", DebVersion.SCHEME));
    assertEquals(Capability.Op.LE, rel.capability("old (< 1.0)").op(), "dpkg reads the obsolete < as <=");
  }
}
