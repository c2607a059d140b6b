package io.hypervisor.assembler.pkgrepo.rpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Downloads;
import io.hypervisor.assembler.pkgrepo.Resolver;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.pkgrepo.Universe;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Gpg;
import io.hypervisor.assembler.testworld.StaticServer;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rpm-md client against the test world's twin repository (a copy per test, on loopback):
 * repomd.xml signature, primary.xml by checksum, resolution against an installed set that rpm
 * itself reports (a real rpm database), downloads whose package signatures are checked; rpm
 * {@code --test} agrees the result installs. A tampered repomd.xml, a missing required signature,
 * a primary.xml or package whose bytes differ, a package signed by a stranger or not at all are
 * each refused with nothing written to the content store.
 */
@Tag("integration")
class RpmRepositoryIT {
  static final String RPM = "core:/stable:/v1.34/rpm";

  @TempDir
  Path tmp;
  Path root;
  Path dir;
  ContentStore store;

  @BeforeEach
  void copyRepository() throws IOException {
    root = tmp.resolve("rpm");
    Fixtures.copyTree(Fixtures.part("repos").resolve("rpm"), root);
    dir = root.resolve(RPM);
    store = ContentStore.open(tmp.resolve("cas"));
  }

  PGPPublicKeyRingCollection worldKey() throws IOException {
    return Signatures.pinned(Files.readAllBytes(dir.resolve("repodata/repomd.xml.key")), Gpg.worldFingerprint(), "test");
  }

  static HttpTransport http() {
    return new HttpTransport(HttpSettings.defaults(), EventSink.NONE);
  }

  RpmRepository repo(StaticServer s, RpmRepository.MetadataSignature sig) throws IOException {
    return new RpmRepository("kubernetes", List.of(s.url() + "/" + RPM + "/"), null, worldKey(), sig, "recipe");
  }

  Universe index(StaticServer s, RpmRepository.MetadataSignature sig) throws IOException {
    return new RpmIndexer(http(), new Downloads(http(), store, EventSink.NONE), EventSink.NONE)
        .index(List.of(repo(s, sig)), "x86_64");
  }

  Downloads.Check signatures() throws IOException {
    PGPPublicKeyRingCollection keys = worldKey();
    return (c, file) -> RpmFile.verify(file, keys, c.name() + " " + c.version());
  }

  /**
   * An rpm database holding a stand-in for the distribution's base packages (it provides what
   * kubelet requires), built with rpmbuild and recorded with rpm --justdb.
   */
  Path rpmRoot() throws IOException {
    Path top = tmp.resolve("build");
    for (String d : List.of("SPECS", "BUILD", "RPMS", "SOURCES", "BUILDROOT")) {
      Files.createDirectories(top.resolve(d));
    }
    Files.writeString(top.resolve("SPECS/base.spec"), """
        Name: node-base-standin
        Version: 1.0
        Release: 1
        Summary: Test stand-in for a distribution's base packages
        License: MIT
        BuildArch: noarch
        Provides: /bin/sh conntrack ethtool iproute socat util-linux iptables = 1.8.10-11
        %description
        Test stand-in for the packages a RHEL-like cloud image has installed.
        %files
        """);
    Tools.run(List.of("rpmbuild", "--quiet", "--define", "_topdir " + top, "-bb", top.resolve("SPECS/base.spec").toString()))
        .ok();
    Path rootDir = tmp.resolve("root");
    Files.createDirectories(rootDir);
    Tools.run(List.of("rpm", "--root", rootDir.toString(), "--initdb")).ok();
    Tools.run(List.of("rpm", "--root", rootDir.toString(), "-i", "--justdb", "--nodeps", "--nosignature",
        top.resolve("RPMS/noarch/node-base-standin-1.0-1.noarch.rpm").toString())).ok();
    return rootDir;
  }

  static List<Candidate> installed(Path rootDir) {
    List<String> cmd = new ArrayList<>(List.of("rpm", "--root", rootDir.toString()));
    cmd.addAll(RpmInstalled.command().subList(1, RpmInstalled.command().size()));
    return RpmInstalled.parse(Tools.run(cmd).ok().out());
  }

  @Test
  void resolvesAgainstARealRpmDatabaseDownloadsVerifiesAndRpmAgrees() throws IOException {
    Path rootDir = rpmRoot();
    List<Candidate> installed = installed(rootDir);
    assertEquals(List.of("node-base-standin=1.0-1"), installed.stream().map(Candidate::id).toList());
    try (StaticServer s = new StaticServer(root, "127.0.0.1")) {
      Universe u = index(s, RpmRepository.MetadataSignature.REQUIRED);
      assertEquals(8, u.size());
      Resolver.Resolution r = new Resolver(u, installed).resolve(List.of(
          new Resolver.Request(new PackageRef("kubelet", "1.34.2-*"), "kubernetes", "kubernetes 1.34.2"),
          new Resolver.Request(new PackageRef("kubeadm", "1.34.2-*"), "kubernetes", "kubernetes 1.34.2"),
          new Resolver.Request(PackageRef.of("cri-tools"), "kubernetes", "crictl")));
      assertTrue(r.ok(), r.problems().toString());
      assertEquals(List.of("kubernetes-cni=1.7.1-150500.1.1", "kubelet=1.34.2-150500.1.1", "kubeadm=1.34.2-150500.1.1",
          "cri-tools=1.34.0-150500.1.1"), r.install().stream().map(Candidate::id).toList());
      new Downloads(http(), store, EventSink.NONE).packages(r.install(), signatures());
      List<String> files = new ArrayList<>();
      for (Candidate c : r.install()) {
        Digest d = Digest.ofSha256Hex(c.sha256());
        assertTrue(store.contains(d));
        Path named = tmp.resolve(c.name() + ".rpm");
        Files.copy(store.path(d), named);
        files.add(named.toString());
      }
      // rpm itself, as oracle: the set installs on top of that database with nothing missing.
      List<String> test = new ArrayList<>(List.of("rpm", "--root", rootDir.toString(), "--test", "--nosignature",
          "-U"));
      test.addAll(files);
      Tools.run(test).ok();
      // And without kubernetes-cni it would not: our closure is not larger than needed.
      test.remove(files.get(0));
      assertTrue(Tools.run(test).code() != 0);
    }
  }

  @Test
  void aTamperedRepomdIsRefused() throws IOException {
    Path md = dir.resolve("repodata/repomd.xml");
    Files.writeString(md, Files.readString(md).replace("<revision>", "<revision>9"));
    try (StaticServer s = new StaticServer(root, "127.0.0.1")) {
      IOException e = assertThrows(IOException.class, () -> index(s, RpmRepository.MetadataSignature.IF_PRESENT));
      assertTrue(e.getMessage().contains("bad signature by " + Gpg.worldFingerprint()), e.getMessage());
    }
    assertEquals(List.of(), store.list());
  }

  @Test
  void aMissingSignatureIsRefusedWhenRequired() throws IOException {
    Files.delete(dir.resolve("repodata/repomd.xml.asc"));
    try (StaticServer s = new StaticServer(root, "127.0.0.1")) {
      IOException e = assertThrows(IOException.class, () -> index(s, RpmRepository.MetadataSignature.REQUIRED));
      assertTrue(e.getMessage().contains("HTTP 404; this repository's metadata must be signed"), e.getMessage());
      assertEquals(8, index(s, RpmRepository.MetadataSignature.IF_PRESENT).size(),
          "optional where packages carry the trust");
    }
  }

  @Test
  void aPrimaryWhoseBytesDifferIsRefused() throws IOException {
    Path primary;
    try (Stream<Path> st = Files.list(dir.resolve("repodata"))) {
      primary = st.filter(p -> p.toString().endsWith("-primary.xml.gz")).findFirst().orElseThrow();
    }
    byte[] b = Files.readAllBytes(primary);
    b[b.length - 10] ^= 1;
    Files.write(primary, b);
    try (StaticServer s = new StaticServer(root, "127.0.0.1")) {
      IOException e = assertThrows(IOException.class, () -> index(s, RpmRepository.MetadataSignature.REQUIRED));
      assertTrue(e.getMessage().contains("primary.xml.gz") && e.getMessage().contains("digest mismatch"), e.getMessage());
    }
    assertEquals(List.of(), store.list());
  }

  /**
   * A mirror that rebuilt the repository around a package it re-signed: the metadata is
   * consistent (and unsigned, as distributions ship it), so only the package signature catches it.
   */
  @Test
  void aPackageSignedByAStrangerOrNotAtAllIsRefused() throws IOException {
    Gpg gpg = new Gpg(tmp.resolve("gnupg"));
    String stranger = gpg.newKey("Stranger <stranger@test-world.invalid>");
    Path kubeadm = dir.resolve("x86_64/kubeadm-1.34.2-150500.1.1.x86_64.rpm");
    Path kubectl = dir.resolve("x86_64/kubectl-1.34.2-150500.1.1.x86_64.rpm");
    gpg.rpmsign(stranger, kubeadm);
    Tools.run(List.of("rpmsign", "--delsign", kubectl.toString())).ok();
    Tools.run(List.of("createrepo_c", "--quiet", "--no-database", "--update", dir.toString())).ok();
    Files.delete(dir.resolve("repodata/repomd.xml.asc"));
    try (StaticServer s = new StaticServer(root, "127.0.0.1")) {
      Universe u = index(s, RpmRepository.MetadataSignature.OFF);
      int indexes = store.list().size();
      Candidate a = u.versions("kubeadm").stream().filter(c -> c.version().startsWith("1.34.2")).findFirst().orElseThrow();
      IOException e = assertThrows(IOException.class,
          () -> new Downloads(http(), store, EventSink.NONE).packages(List.of(a), signatures()));
      assertTrue(e.getMessage().contains("which is not a trusted key (" + Gpg.worldFingerprint() + ")"), e.getMessage());
      Candidate b = u.versions("kubectl").stream().filter(c -> c.version().startsWith("1.34.2")).findFirst().orElseThrow();
      IOException e2 = assertThrows(IOException.class,
          () -> new Downloads(http(), store, EventSink.NONE).packages(List.of(b), signatures()));
      assertTrue(e2.getMessage().contains("is not signed"), e2.getMessage());
      assertEquals(indexes, store.list().size(), "neither package reached the content store");
    }
  }

  @Test
  void everyTestWorldPackageVerifiesAndATamperedPayloadDoesNot() throws IOException {
    PGPPublicKeyRingCollection keys = worldKey();
    try (Stream<Path> st = Files.list(dir.resolve("x86_64"))) {
      for (Path p : st.toList()) {
        RpmFile.verify(p, keys, p.getFileName().toString());
      }
    }
    Path p = dir.resolve("x86_64/kubelet-1.34.2-150500.1.1.x86_64.rpm");
    byte[] b = Files.readAllBytes(p);
    b[b.length - 20] ^= 1;
    Files.write(p, b);
    IOException e = assertThrows(IOException.class, () -> RpmFile.verify(p, keys, "kubelet"));
    assertTrue(e.getMessage().contains("the payload does not match the signed header's payload digest"), e.getMessage());
  }
}
