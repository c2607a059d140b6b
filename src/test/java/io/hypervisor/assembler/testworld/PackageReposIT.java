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
 * the stand-in programs answer like the real ones and say they are stand-ins.
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
