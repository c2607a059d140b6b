package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.http.HttpTransport;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.pkgrepo.Candidate;
import io.hypervisor.assembler.pkgrepo.Downloads;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.Resolver;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.pkgrepo.Universe;
import io.hypervisor.assembler.pkgrepo.apt.AptIndexer;
import io.hypervisor.assembler.pkgrepo.apt.AptRepository;
import io.hypervisor.assembler.pkgrepo.apt.AptSources;
import io.hypervisor.assembler.pkgrepo.apt.PackagesIndex;
import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.recipe.RecipeReader;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.StaticServer;
import io.hypervisor.assembler.testworld.TestRecipes;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real data: the test world worker plan's packages resolved against the base image's own
 * sources (the build host's Debian mirror, bookworm main, updates and security) and installed
 * set, plus the test world's Kubernetes repository. Real apt and dpkg are the oracles, run in a
 * chroot of the base image's tree: {@code apt-get install --simulate} of exactly our set installs
 * nothing else (nothing is missing) and, given only what the plan asks for, chooses the same set
 * (nothing is superfluous); {@code dpkg -i} of exactly our files, in our order, succeeds.
 */
@Tag("integration")
class DebianClosureIT {
  @TempDir
  Path tmp;

  @Test
  void thePlansClosureIsWhatAptWouldInstallAndDpkgAcceptsIt() throws IOException {
    Path root = tmp.resolve("root");
    Files.createDirectories(root);
    Tools.run(List.of("tar", "-xpf", Fixtures.part("base-image").resolve("rootfs.tar").toString(), "-C",
        root.toString(), "--numeric-owner")).ok();
    ContentStore store = ContentStore.open(tmp.resolve("cas"));
    HttpTransport http = new HttpTransport(HttpSettings.defaults(), EventSink.NONE);
    Downloads downloads = new Downloads(http, store, EventSink.NONE);
    try (StaticServer server = new StaticServer(Fixtures.part("repos").resolve("apt"), "127.0.0.1")) {
      Plan plan = new Planner(KubernetesBom.load()).plan(new RecipeReader(Map.of(), List.of())
          .read(TestRecipes.worker(tmp.resolve("recipe"), server.url(), null)).recipe(), List.of());
      ImageFiles image = ImageFiles.directory(root);
      List<AptRepository> repos = new ArrayList<>(AptSources.read(image, "amd64"));
      Plan.Repository k8s = plan.repositories().get(0);
      repos.add(new AptRepository("kubernetes", k8s.url(), "/", List.of(), List.of("amd64"),
          Signatures.pinned(Files.readAllBytes(Path.of(k8s.keyPath())), k8s.keyFingerprint(), "kubernetes"), "recipe"));
      Universe u = new AptIndexer(http, downloads, EventSink.NONE).index(repos, "amd64");
      assertTrue(u.size() > 60_000, "bookworm main has ~63 000 packages: " + u.size());
      List<Candidate> installed = PackagesIndex.installed(Files.readAllBytes(root.resolve("var/lib/dpkg/status")), "amd64");
      List<Resolver.Request> requests = plan.packages().stream().map(p -> new Resolver.Request(
          new PackageRef(p.name(), p.version()), p.repository(), p.reason())).toList();
      Resolver.Resolution r = new Resolver(u, installed).resolve(requests);
      assertTrue(r.ok(), r.problems().toString());
      List<Candidate> ours = r.install();
      assertTrue(ours.stream().anyMatch(c -> c.id().equals("kubelet=1.34.2-1.1")), ours.toString());
      assertTrue(ours.stream().anyMatch(c -> c.name().equals("containerd")), ours.toString());

      chrootApt(root, server, k8s);
      // Oracle 1: asked for exactly our set, apt installs exactly it: nothing is missing.
      List<String> exact = new ArrayList<>(List.of("apt-get", "install", "--simulate", "--no-install-recommends",
          "-o", "Debug::NoLocking=1"));
      ours.forEach(c -> exact.add(c.id()));
      assertEquals(ids(ours), inst(chroot(root, exact)), "apt installs exactly our set");
      // ... and asked only for what the plan requests, apt chooses the same set: nothing is superfluous.
      List<String> asked = new ArrayList<>(List.of("apt-get", "install", "--simulate", "--no-install-recommends",
          "-o", "Debug::NoLocking=1"));
      for (Resolver.Request q : requests) {
        Candidate chosen = ours.stream().filter(c -> c.name().equals(q.ref().name())).findFirst().orElse(null);
        // Requests the image already satisfies are not in our set; apt leaves them alone too.
        asked.add(chosen != null && q.ref().version() != null ? chosen.id() : q.ref().name());
      }
      assertEquals(ids(ours), inst(chroot(root, asked)), "apt's own resolution of the plan's requests");

      // Oracle 2: dpkg -i of exactly our files, in our order, in the runs the packages step uses
      // (DpkgRuns: a pre-dependency within the set goes into an earlier run), succeeds.
      downloads.packages(ours, null);
      Path debs = root.resolve("tmp/debs");
      Files.createDirectories(debs);
      Files.writeString(root.resolve("usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n");
      root.resolve("usr/sbin/policy-rc.d").toFile().setExecutable(true);
      StringBuilder script = new StringBuilder("set -e\nmount -t proc proc " + root + "/proc\n");
      List<Integer> runs = io.hypervisor.assembler.pkgrepo.apt.DpkgRuns.of(ours);
      for (int run = 0; run <= runs.stream().mapToInt(Integer::intValue).max().orElse(0); run++) {
        script.append("chroot ").append(root).append(" env DEBIAN_FRONTEND=noninteractive dpkg -i");
        for (int i = 0; i < ours.size(); i++) {
          if (runs.get(i) != run) {
            continue;
          }
          Candidate c = ours.get(i);
          String name = String.format("%03d_%s.deb", i, c.name());
          Files.copy(store.path(Digest.ofSha256Hex(c.sha256())), debs.resolve(name));
          script.append(" /tmp/debs/").append(name);
        }
        script.append('\n');
      }
      Tools.Result dpkg = Tools.run(List.of("unshare", "--mount", "--", "sh", "-c", script.toString()), null, 900);
      assertEquals(0, dpkg.code(), dpkg.out() + dpkg.err());
      assertEquals("", chroot(root, List.of("dpkg", "--audit")).out(), "dpkg --audit: every package configured");
      String states = chroot(root, List.of("dpkg-query", "-W", "-f", "${Package}=${Version} ${db:Status-Abbrev}\\n"))
          .out();
      for (Candidate c : ours) {
        assertTrue(states.contains(c.id() + " ii "), c.id() + " is installed: " + states);
      }
    }
  }

  static Set<String> ids(List<Candidate> cs) {
    Set<String> s = new TreeSet<>();
    cs.forEach(c -> s.add(c.id()));
    return s;
  }

  /** The packages an apt-get --simulate run would install ("Inst name (version …"). */
  static Set<String> inst(Tools.Result r) {
    assertEquals(0, r.code(), r.out() + r.err());
    Set<String> s = new TreeSet<>();
    r.out().lines().filter(l -> l.startsWith("Inst ")).forEach(l -> {
      String[] f = l.split(" ");
      String version = f[2].equals("[") || f[2].startsWith("[") ? f[3].substring(1) : f[2].substring(1);
      s.add(f[1] + "=" + version);
    });
    return s;
  }

  /** The chroot's apt sees the image's sources (the host mirror) and the test world repository. */
  static void chrootApt(Path root, StaticServer server, Plan.Repository k8s) throws IOException {
    Files.copy(Path.of("/etc/resolv.conf"), root.resolve("etc/resolv.conf"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Path keyring = root.resolve("etc/apt/keyrings/kubernetes-apt-keyring.gpg");
    Files.createDirectories(keyring.getParent());
    Files.write(keyring, Signatures.dearmored(Signatures.pinned(Files.readAllBytes(Path.of(k8s.keyPath())),
        k8s.keyFingerprint(), "kubernetes")));
    Files.writeString(root.resolve("etc/apt/sources.list.d/kubernetes.sources"), "Types: deb\nURIs: " + server.url()
        + "/core:/stable:/v1.34/deb/\nSuites: /\nSigned-By: /etc/apt/keyrings/kubernetes-apt-keyring.gpg\n");
    Tools.Result update = chroot(root, List.of("apt-get", "-q", "update", "-o", "Debug::NoLocking=1"));
    assertEquals(0, update.code(), update.out() + update.err());
    assertTrue(!update.err().contains("W:") && !update.err().contains("E:"), update.err());
  }

  static Tools.Result chroot(Path root, List<String> cmd) {
    List<String> c = new ArrayList<>(List.of("chroot", root.toString()));
    c.addAll(cmd);
    return Tools.run(c, null, 600);
  }
}
