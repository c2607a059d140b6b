package io.hypervisor.assembler.pkgrepo.apt;

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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The apt client against the test world's signed repository (a copy per test, served on
 * loopback): it resolves, downloads and verifies; and a tampered Release, a signature by an
 * untrusted key, a key that is not the pinned one, a .deb or index whose bytes differ, an expired
 * Valid-Until each stop it with a clear error, with nothing written to the content store.
 */
@Tag("integration")
class AptRepositoryIT {
  static final String DEB = "core:/stable:/v1.34/deb";

  @TempDir
  Path tmp;
  Path apt;
  Path dir;
  ContentStore store;

  @BeforeEach
  void copyRepository() throws IOException {
    apt = tmp.resolve("apt");
    Fixtures.copyTree(Fixtures.part("repos").resolve("apt"), apt);
    dir = apt.resolve(DEB);
    store = ContentStore.open(tmp.resolve("cas"));
  }

  PGPPublicKeyRingCollection worldKey() throws IOException {
    return Signatures.pinned(Files.readAllBytes(dir.resolve("Release.key")), Gpg.worldFingerprint(), "test");
  }

  AptRepository repo(StaticServer s, PGPPublicKeyRingCollection keys) {
    return new AptRepository("kubernetes", s.url() + "/" + DEB + "/", "/", List.of(), List.of("amd64"), keys, "recipe");
  }

  HttpTransport http() {
    return new HttpTransport(HttpSettings.defaults(), EventSink.NONE);
  }

  Universe index(PGPPublicKeyRingCollection keys) throws IOException {
    try (StaticServer s = new StaticServer(apt, "127.0.0.1")) {
      return new AptIndexer(http(), new Downloads(http(), store, EventSink.NONE), EventSink.NONE)
          .index(List.of(repo(s, keys)), "amd64");
    }
  }

  /** The distro packages kubelet needs, as if the image had them. */
  static List<Candidate> installed() throws IOException {
    StringBuilder b = new StringBuilder();
    for (String[] p : new String[][] {{"iptables", "1.8.9-2"}, {"iproute2", "6.1.0-3"}, {"socat", "1.7.4.4-2"},
        {"util-linux", "2.38.1-5+deb12u3"}, {"mount", "2.38.1-5+deb12u3"}, {"ethtool", "1:6.1-1"},
        {"init-system-helpers", "1.65.2"}}) {
      b.append("Package: ").append(p[0]).append("\nStatus: install ok installed\nArchitecture: amd64\nVersion: ")
          .append(p[1]).append("\n\n");
    }
    return PackagesIndex.installed(b.toString().getBytes(StandardCharsets.UTF_8), "amd64");
  }

  void assertStoreEmpty() throws IOException {
    assertEquals(List.of(), store.list(), "nothing may reach the content store");
  }

  @Test
  void resolvesDownloadsAndVerifiesThePinnedPatch() throws IOException {
    Universe u = index(worldKey());
    assertEquals(8, u.size());
    Resolver.Resolution r = new Resolver(u, installed()).resolve(List.of(
        new Resolver.Request(new PackageRef("kubelet", "1.34.2-*"), "kubernetes", "kubernetes 1.34.2"),
        new Resolver.Request(new PackageRef("kubeadm", "1.34.2-*"), "kubernetes", "kubernetes 1.34.2"),
        new Resolver.Request(new PackageRef("kubectl", "1.34.2-*"), "kubernetes", "kubernetes 1.34.2"),
        new Resolver.Request(PackageRef.of("cri-tools"), "kubernetes", "crictl")));
    assertTrue(r.ok(), r.problems().toString());
    assertEquals(List.of("kubernetes-cni=1.7.1-1.1", "kubelet=1.34.2-1.1", "kubeadm=1.34.2-1.1", "kubectl=1.34.2-1.1",
        "cri-tools=1.34.0-1.1"), r.install().stream().map(Candidate::id).toList());
    try (StaticServer s = new StaticServer(apt, "127.0.0.1")) {
      // The universe's URLs point at the server that indexed it; serve the same tree on a new port.
      List<Candidate> pkgs = new Resolver(index(worldKey()), installed()).resolve(List.of(
          new Resolver.Request(new PackageRef("kubelet", "1.34.2-*"), "kubernetes", "k"))).install();
      new Downloads(http(), store, EventSink.NONE).packages(rebase(pkgs, s), null);
      for (Candidate c : pkgs) {
        Path deb = apt.resolve(DEB).resolve(c.url().substring(c.url().indexOf("/amd64/") + 1));
        Digest d = Digest.sha256(Files.readAllBytes(deb));
        assertEquals(d, Digest.ofSha256Hex(c.sha256()));
        assertTrue(store.contains(d), c + " is in the content store");
      }
    }
  }

  /** The same packages at another server's address (each StaticServer has its own port). */
  static List<Candidate> rebase(List<Candidate> pkgs, StaticServer s) {
    return pkgs.stream().map(c -> new Candidate(c.name(), c.version(), c.arch(), c.requires(), c.preRequires(),
        c.provides(), c.conflicts(), s.url() + "/" + DEB + c.url().substring(c.url().indexOf("/amd64/")), c.size(),
        c.sha256(), c.source())).toList();
  }

  @Test
  void readsReleaseWithDetachedSignatureWhenThereIsNoInRelease() throws IOException {
    Files.delete(dir.resolve("InRelease"));
    assertEquals(8, index(worldKey()).size());
  }

  @Test
  void aTamperedReleaseIsRefused() throws IOException {
    Path in = dir.resolve("InRelease");
    Files.writeString(in, Files.readString(in).replace("Label: isv:kubernetes", "Label: isv:evil"));
    IOException e = assertThrows(IOException.class, () -> index(worldKey()));
    assertTrue(e.getMessage().contains("bad signature by " + Gpg.worldFingerprint()), e.getMessage());
    assertStoreEmpty();
  }

  @Test
  void aSignatureByAnUntrustedKeyIsRefused() throws IOException {
    Gpg gpg = new Gpg(tmp.resolve("gnupg"));
    String stranger = gpg.newKey("Stranger <stranger@test-world.invalid>");
    gpg.clearsign(stranger, dir.resolve("Release"), dir.resolve("InRelease"));
    IOException e = assertThrows(IOException.class, () -> index(worldKey()));
    assertTrue(e.getMessage().contains("which is not a trusted key (" + Gpg.worldFingerprint() + ")"), e.getMessage());
    assertStoreEmpty();
  }

  @Test
  void aKeyThatIsNotThePinnedOneIsRefused() throws IOException {
    Gpg gpg = new Gpg(tmp.resolve("gnupg"));
    String stranger = gpg.newKey("Stranger <stranger@test-world.invalid>");
    IOException e = assertThrows(IOException.class,
        () -> Signatures.pinned(gpg.export(stranger), Gpg.worldFingerprint(), "repository kubernetes"));
    assertTrue(e.getMessage().contains("is not the pinned key " + Gpg.worldFingerprint() + " (it holds " + stranger),
        e.getMessage());
  }

  @Test
  void aSignatureThatIsNotASignatureIsRefused() throws IOException {
    Files.delete(dir.resolve("InRelease"));
    Files.writeString(dir.resolve("Release.gpg"), "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n");
    IOException e = assertThrows(IOException.class, () -> index(worldKey()));
    assertTrue(e.getMessage().contains("Release of kubernetes"), e.getMessage());
    assertStoreEmpty();
  }

  @Test
  void anExpiredValidUntilIsRefused() throws IOException {
    Path rel = dir.resolve("Release");
    Files.writeString(rel, Files.readString(rel).replaceFirst("(?m)^Date: .*$",
        "$0\nValid-Until: Sat, 01 Nov 2025 00:00:00 UTC"));
    new Gpg(tmp.resolve("gnupg")).clearsign(Gpg.worldFingerprint(), rel, dir.resolve("InRelease"));
    IOException e = assertThrows(IOException.class, () -> index(worldKey()));
    assertTrue(e.getMessage().contains("expired on Sat, 01 Nov 2025 00:00:00 UTC (Valid-Until)"), e.getMessage());
    assertStoreEmpty();
  }

  @Test
  void anIndexThatDiffersFromTheSignedReleaseIsRefused() throws IOException {
    Path xz = dir.resolve("Packages.xz");
    byte[] b = Files.readAllBytes(xz);
    b[b.length / 2] ^= 1;
    Files.write(xz, b);
    IOException e = assertThrows(IOException.class, () -> index(worldKey()));
    assertTrue(e.getMessage().contains("Packages.xz") && e.getMessage().contains("digest mismatch"), e.getMessage());
    assertStoreEmpty();
  }

  @Test
  void aDebWhoseBytesDifferIsRefusedAndNotStored() throws IOException {
    Universe u = index(worldKey());
    int indexes = store.list().size();
    Path deb = dir.resolve("amd64/kubeadm_1.34.2-1.1_amd64.deb");
    Files.write(deb, "x".getBytes(StandardCharsets.UTF_8), java.nio.file.StandardOpenOption.APPEND);
    Candidate kubeadm = u.versions("kubeadm").stream().filter(c -> c.version().equals("1.34.2-1.1")).findFirst()
        .orElseThrow();
    try (StaticServer s = new StaticServer(apt, "127.0.0.1")) {
      IOException e = assertThrows(IOException.class,
          () -> new Downloads(http(), store, EventSink.NONE).packages(rebase(List.of(kubeadm), s), null));
      assertTrue(e.getMessage().contains("kubeadm 1.34.2-1.1") && e.getMessage().contains("differs from what the signed "
          + "index says"), e.getMessage());
    }
    assertEquals(indexes, store.list().size(), "only the verified index is stored, not the .deb");
    assertTrue(!store.contains(Digest.ofSha256Hex(kubeadm.sha256())));
  }

  @Test
  void imageSourcesReadFromTheBaseImage() throws IOException {
    Path root = tmp.resolve("root");
    Files.createDirectories(root);
    Tools.run(List.of("tar", "-xf", Fixtures.part("base-image").resolve("rootfs.tar").toString(), "-C", root.toString(),
        "./etc/apt", "./usr/share/keyrings")).ok();
    List<AptRepository> repos = AptSources.read(io.hypervisor.assembler.pkgrepo.ImageFiles.directory(root), "amd64");
    assertEquals(List.of("bookworm", "bookworm-updates", "bookworm-security"),
        repos.stream().map(AptRepository::suite).toList());
    assertTrue(repos.stream().allMatch(r -> r.components().equals(List.of("main")) && r.keys() != null
        && r.origin().equals("image /etc/apt/sources.list.d/debian.sources")), repos.toString());
  }
}
