package io.hypervisor.assembler.testworld;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The signed package repository stand-ins, checked with the real tools: apt accepts the flat
 * repository and refuses it once Release is tampered with; gpg and rpm verify the rpm-md twin;
 * apt takes the Docker stand-in's bookworm and trixie suites, rpm and gpg its RHEL 9 repository;
 * the stand-in packages have their real counterparts' shape and say they are stand-ins.
 */
@Tag("integration")
@SuppressWarnings("unchecked")
class PackageReposIT {
  static final String DEB = "apt/core:/stable:/v1.34/deb";
  static final String RPM = "rpm/core:/stable:/v1.34/rpm";

  @TempDir
  Path tmp;

  /**
   * apt-get with its own state, sources and keyring (the same apt release as the base image's),
   * each command in turn against one server serving {@code repoRoot}.
   */
  List<Tools.Result> apt(Path repoRoot, List<String>... commands) throws IOException {
    Path keyring = tmp.resolve("kubernetes-apt-keyring.gpg");
    if (!Files.exists(keyring)) {
      Tools.run(List.of("gpg", "--batch", "--yes", "--dearmor", "-o", keyring.toString(),
          repoRoot.resolve(DEB + "/Release.key").toString())).ok();
    }
    Path state = tmp.resolve("state");
    Files.createDirectories(state.resolve("lists/partial"));
    Files.createDirectories(tmp.resolve("cache/archives/partial"));
    Files.writeString(tmp.resolve("status"), "");
    try (StaticServer server = new StaticServer(repoRoot.resolve("apt"), "127.0.0.1")) {
      Path sources = tmp.resolve("kubernetes.list");
      Files.writeString(sources, "deb [signed-by=" + keyring + "] " + server.url() + "/core:/stable:/v1.34/deb/ /\n");
      List<Tools.Result> results = new ArrayList<>();
      for (List<String> args : commands) {
      List<String> cmd = new ArrayList<>(List.of("apt-get", "-q",
          "-o", "Dir::Etc::SourceList=" + sources, "-o", "Dir::Etc::SourceParts=/nonexistent",
          "-o", "Dir::State=" + state, "-o", "Dir::State::status=" + tmp.resolve("status"),
          "-o", "Dir::Cache=" + tmp.resolve("cache"), "-o", "Debug::NoLocking=1",
          "-o", "APT::Architecture=amd64", "-o", "Acquire::Languages=none", "-o", "APT::Sandbox::User=root"));
      cmd.addAll(args);
      results.add(Tools.run(cmd));
      }
      return results;
    }
  }

  @Test
  void aptAcceptsTheSignedRepositoryAndSeesBothPatches() throws IOException {
    Path repos = Fixtures.part("repos");
    List<Tools.Result> r = apt(repos, List.of("update"),
        List.of("-s", "install", "kubeadm=1.34.2-1.1", "kubectl=1.34.1-1.1"));
    Tools.Result update = r.get(0);
    assertEquals(0, update.code(), update.out() + update.err());
    assertTrue(!update.err().contains("W:") && !update.err().contains("E:"), update.err());
    Tools.Result policy = r.get(1);
    assertEquals(0, policy.code(), policy.out() + policy.err());
    assertTrue(policy.out().contains("Inst kubeadm (1.34.2-1.1"), policy.out());
    assertTrue(policy.out().contains("Inst kubectl (1.34.1-1.1"), policy.out());
  }

  @Test
  void aptRefusesATamperedRelease() throws IOException {
    Path copy = tmp.resolve("tampered");
    Fixtures.copyTree(Fixtures.part("repos"), copy);
    Path dir = copy.resolve(DEB);
    for (String f : List.of("Release", "InRelease")) {
      Path p = dir.resolve(f);
      Files.writeString(p, Files.readString(p).replace("Label: isv:kubernetes", "Label: isv:evil"));
    }
    Tools.Result update = apt(copy, List.of("update")).get(0);
    assertTrue(update.code() != 0 || update.err().contains("E:"), update.out() + update.err());
    assertTrue(update.err().contains("signature") || update.err().contains("not signed")
        || update.err().contains("BADSIG"), update.err());
  }

  @Test
  void theRpmTwinIsSignedAndComplete() throws IOException {
    Path rpm = Fixtures.part("repos").resolve(RPM);
    Path home = tmp.resolve("gnupg");
    Files.createDirectories(home);
    Tools.run(List.of("gpg", "--homedir", home.toString(), "--batch", "--import",
        rpm.resolve("repodata/repomd.xml.key").toString())).ok();
    Tools.run(List.of("gpg", "--homedir", home.toString(), "--batch", "--verify",
        rpm.resolve("repodata/repomd.xml.asc").toString(), rpm.resolve("repodata/repomd.xml").toString())).ok();
    Path tampered = tmp.resolve("repomd.xml");
    Files.writeString(tampered, Files.readString(rpm.resolve("repodata/repomd.xml")).replace("<revision>", "<revision>1"));
    assertNotEquals(0, Tools.run(List.of("gpg", "--homedir", home.toString(), "--batch", "--verify",
        rpm.resolve("repodata/repomd.xml.asc").toString(), tampered.toString())).code());

    Path db = tmp.resolve("rpmdb");
    Tools.run(List.of("rpm", "--dbpath", db.toString(), "--import", rpm.resolve("repodata/repomd.xml.key").toString())).ok();
    List<Path> packages;
    try (Stream<Path> s = Files.list(rpm.resolve("x86_64"))) {
      packages = s.sorted().toList();
    }
    assertEquals(8, packages.size());
    for (Path p : packages) {
      Tools.Result k = Tools.run(List.of("rpm", "--dbpath", db.toString(), "-K", p.toString())).ok();
      assertTrue(k.out().contains("signatures OK"), k.out());
    }
    String names = Tools.run(List.of("sh", "-c", "zcat " + rpm.resolve("repodata") + "/*-primary.xml.gz")).ok().out();
    assertTrue(names.contains("<name>kubelet</name>") && names.contains("ver=\"1.34.2\" rel=\"150500.1.1\""), names);
  }

  /** Docker's layout: dists/<suite>/stable, the pool under dists/<suite>/pool; real apt takes both suites. */
  @Test
  void aptAcceptsTheDockerStandInForBookwormAndTrixie() throws IOException {
    Path docker = Fixtures.part("docker-repo");
    Path keyring = tmp.resolve("docker.gpg");
    Tools.run(List.of("gpg", "--batch", "--yes", "--dearmor", "-o", keyring.toString(),
        docker.resolve("linux/debian/gpg").toString())).ok();
    String version = Files.readString(docker.resolve("containerd.io.version")).strip();
    for (String[] suite : new String[][] {{"bookworm", "12"}, {"trixie", "13"}}) {
      Path state = tmp.resolve("docker-" + suite[0]);
      Files.createDirectories(state.resolve("lists/partial"));
      Files.createDirectories(state.resolve("cache/archives/partial"));
      Files.writeString(state.resolve("status"), "");
      try (StaticServer server = new StaticServer(docker, "127.0.0.1")) {
        Path sources = state.resolve("docker.list");
        Files.writeString(sources, "deb [arch=amd64 signed-by=" + keyring + "] " + server.url() + "/linux/debian "
            + suite[0] + " stable\n");
        List<String> base = List.of("apt-get", "-q", "-o", "Dir::Etc::SourceList=" + sources,
            "-o", "Dir::Etc::SourceParts=/nonexistent", "-o", "Dir::State=" + state,
            "-o", "Dir::State::status=" + state.resolve("status"), "-o", "Dir::Cache=" + state.resolve("cache"),
            "-o", "Debug::NoLocking=1", "-o", "APT::Architecture=amd64", "-o", "Acquire::Languages=none",
            "-o", "APT::Sandbox::User=root");
        List<String> update = new ArrayList<>(base);
        update.add("update");
        Tools.Result u = Tools.run(update).ok();
        assertTrue(!u.err().contains("W:") && !u.err().contains("E:"), u.err());
        List<String> show = new ArrayList<>(base);
        show.addAll(List.of("download", "--print-uris", "containerd.io"));
        String uri = Tools.run(show).ok().out().replace("%7e", "~");
        assertTrue(uri.contains("/linux/debian/dists/" + suite[0] + "/pool/stable/amd64/containerd.io_" + version
            + "-1~debian." + suite[1] + "~" + suite[0] + "_amd64.deb"), uri);
      }
    }
  }

  /** The package's shape: Docker's fields and files, Docker's config.toml with CRI disabled, real containerd 2.x binaries. */
  @Test
  void theContainerdIoStandInHasTheRealPackagesShape() throws IOException {
    Path docker = Fixtures.part("docker-repo");
    Path deb;
    try (Stream<Path> s = Files.list(docker.resolve("linux/debian/dists/bookworm/pool/stable/amd64"))) {
      deb = s.findFirst().orElseThrow();
    }
    String control = Tools.run(List.of("dpkg-deb", "-f", deb.toString())).ok().out();
    for (String field : List.of("Package: containerd.io", "Provides: containerd, runc", "Conflicts: containerd, runc",
        "Replaces: containerd, runc", "Depends: libc6 (>= 2.34), libseccomp2 (>= 2.5.0)",
        "Description: An open and reliable container runtime", " Test stand-in for Docker's containerd.io")) {
      assertTrue(control.contains(field), field + " in " + control);
    }
    Path root = tmp.resolve("containerd.io");
    Tools.run(List.of("dpkg-deb", "-x", deb.toString(), root.toString())).ok();
    assertTrue(Files.readString(root.resolve("etc/containerd/config.toml")).contains("disabled_plugins = [\"cri\"]"));
    assertTrue(Files.readString(root.resolve("lib/systemd/system/containerd.service"))
        .contains("ExecStart=/usr/bin/containerd"));
    for (String b : List.of("containerd", "containerd-shim-runc-v2", "ctr", "runc")) {
      assertTrue(Files.isExecutable(root.resolve("usr/bin/" + b)), b);
    }
    assertTrue(Tools.run(List.of(root + "/usr/bin/containerd", "--version")).ok().out().contains(" 2."));
    assertTrue(Tools.run(List.of("dpkg-deb", "-I", deb.toString(), "postinst")).ok().out()
        .contains("deb-systemd-helper enable 'containerd.service'"));

    Path rhel = docker.resolve("linux/rhel");
    Path db = tmp.resolve("docker-rpmdb");
    Tools.run(List.of("rpm", "--dbpath", db.toString(), "--import", rhel.resolve("gpg").toString())).ok();
    Path rpm;
    try (Stream<Path> s = Files.list(rhel.resolve("9/x86_64/stable/Packages"))) {
      rpm = s.findFirst().orElseThrow();
    }
    assertTrue(rpm.getFileName().toString().matches("containerd\\.io-2\\.\\d+\\.\\d+-1\\.el9\\.x86_64\\.rpm"), rpm.toString());
    assertTrue(Tools.run(List.of("rpm", "--dbpath", db.toString(), "-K", rpm.toString())).ok().out()
        .contains("signatures OK"));
    String deps = Tools.run(List.of("rpm", "-qp", "--provides", "--conflicts", "--obsoletes", "--requires",
        rpm.toString())).ok().out();
    assertTrue(deps.contains("container-selinux") && deps.contains("libseccomp") && deps.contains("runc"), deps);
    Path home = tmp.resolve("docker-gnupg");
    Files.createDirectories(home);
    Tools.run(List.of("gpg", "--homedir", home.toString(), "--batch", "--import", rhel.resolve("gpg").toString())).ok();
    Path repodata = rhel.resolve("9/x86_64/stable/repodata");
    Tools.run(List.of("gpg", "--homedir", home.toString(), "--batch", "--verify",
        repodata.resolve("repomd.xml.asc").toString(), repodata.resolve("repomd.xml").toString())).ok();
    assertNotEquals(Files.readString(docker.resolve("key.fingerprint")).strip(),
        Files.readString(Fixtures.part("repos").resolve("key.fingerprint")).strip(), "a key of its own");
  }

  @Test
  void standInsAnswerLikeTheRealToolsAndSayWhatTheyAre() throws IOException {
    Path debs = Fixtures.part("repos").resolve(DEB + "/amd64");
    Path root = tmp.resolve("root");
    for (String pkg : List.of("kubeadm_1.34.2-1.1", "kubelet_1.34.2-1.1", "kubectl_1.34.2-1.1")) {
      Tools.run(List.of("dpkg-deb", "-x", debs.resolve(pkg + "_amd64.deb").toString(), root.toString())).ok();
      String info = Tools.run(List.of("dpkg-deb", "-f", debs.resolve(pkg + "_amd64.deb").toString(), "Description")).ok().out();
      assertTrue(info.startsWith("Test stand-in for"), info);
    }
    assertEquals("Kubernetes v1.34.2\n", Tools.run(List.of(root + "/usr/bin/kubelet", "--version")).ok().out());
    assertEquals("v1.34.2\n", Tools.run(List.of(root + "/usr/bin/kubeadm", "version", "-o", "short")).ok().out());
    assertTrue(Tools.run(List.of(root + "/usr/bin/kubectl", "version", "--client")).ok().out().startsWith("Client Version: v1.34.2"));
    assertEquals(List.of("registry.k8s.io/kube-apiserver:v1.34.2", "registry.k8s.io/kube-controller-manager:v1.34.2",
        "registry.k8s.io/kube-scheduler:v1.34.2", "registry.k8s.io/kube-proxy:v1.34.2",
        "registry.k8s.io/coredns/coredns:v1.12.1", "registry.k8s.io/pause:3.10.1", "registry.k8s.io/etcd:3.6.5-0"),
        Tools.run(List.of(root + "/usr/bin/kubeadm", "config", "images", "list", "--kubernetes-version", "v1.34.2"))
            .ok().out().lines().toList());
    assertTrue(Files.exists(root.resolve("usr/lib/systemd/system/kubelet.service")));
    assertTrue(Files.exists(root.resolve("usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf")));
    String control = Tools.run(List.of("dpkg-deb", "-I", debs.resolve("kubelet_1.34.2-1.1_amd64.deb").toString(), "postinst")).ok().out();
    assertTrue(control.contains("deb-systemd-helper enable 'kubelet.service'"), control);
  }
}
