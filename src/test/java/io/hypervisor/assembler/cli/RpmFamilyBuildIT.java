package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.plan.Versions;
import io.hypervisor.assembler.steps.Units;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Gpg;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.StaticServer;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.TestRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dnf path end to end on the rpm-family stand-in ({@code fixtures/base-image-rocky-9}: Rocky 9
 * GenericCloud's layout and identity, EL's dnf.conf with enabled repositories that the appliance
 * cannot reach, an rpmdb of stand-ins): {@code assemble RECIPE} plans, locks (the image's own
 * rocky.repo plus the Kubernetes and Docker rpm twins), installs with the image's dnf offline,
 * relabels with the image's setfiles and verifies; the image's own rpm, dnf and python read it
 * back, and the node boots through its own GRUB from the xfs {@code /boot} and passes every boot
 * check. The untouched base fails verify and names what it lacks. As {@code demo/run worker
 * --base rocky-9} builds it.
 */
@Tag("integration")
class RpmFamilyBuildIT {
  @TempDir
  static Path tmp;

  private static SuiteImages.Run build;
  private static List<StaticServer.Request> distroRequests;
  private static Path base;
  private static Path part;
  private static Path recipe;
  private static Path image;
  private static GuestfsSession session;

  @BeforeAll
  static void build() throws Exception {
    part = Fixtures.part("base-image-rocky-9");
    Properties facts = new Properties();
    try (var in = Files.newInputStream(part.resolve("image.properties"))) {
      facts.load(in);
    }
    base = part.resolve("rocky-9-generic.qcow2");
    Path docker = Fixtures.part("docker-repo");
    Path repos = Fixtures.part("repos");
    image = tmp.resolve("out/test-world-worker-rocky-9.qcow2");
    try (TestRegistry registry = TestRegistry.builder().build().start();
        StaticServer rpm = new StaticServer(repos.resolve("rpm"), "127.0.0.1");
        StaticServer dockerRepo = new StaticServer(docker, "127.0.0.1");
        // the port the stand-in's rocky.repo names
        StaticServer distro = new StaticServer(part.resolve("distro"), "127.0.0.1",
            Integer.parseInt(facts.getProperty("distro.port")))) {
      StringBuilder r = new StringBuilder("""
          apiVersion: assemble.hypervisor.io/v1
          kind: NodeImage
          name: test-world-worker-rocky-9
          base: {path: %s, os: rocky-9, arch: amd64}
          kubernetes: {version: 1.34.2, role: worker, cni: cilium}
          containerd: {version: "%s"}
          repositories:
            - name: kubernetes
              mirror: %s/core:/stable:/v1.34/rpm/
              key: {path: %s, fingerprint: %s}
            - name: docker
              mirror: %s/linux/rhel/9/x86_64/stable
              key: {path: %s, fingerprint: %s}
          disk: {size: 8G}
          output: {path: %s}
          mirrors:
          """.formatted(base, Versions.line(Files.readString(docker.resolve("containerd.io.version")).strip()),
          rpm.url(), repos.resolve("rpm/core:/stable:/v1.34/rpm/repodata/repomd.xml.key"), Gpg.worldFingerprint(),
          dockerRepo.url(), docker.resolve("linux/rhel/gpg"), Files.readString(docker.resolve("key.fingerprint")).strip(),
          image));
      for (String host : List.of("registry.k8s.io", "quay.io", "ghcr.io", "docker.io")) {
        r.append("  ").append(host).append(": [").append(registry.url()).append("]\n");
      }
      recipe = Files.writeString(tmp.resolve("test-world-worker-rocky-9.yaml"), r.toString());
      build = SuiteImages.slot("build worker-rocky-9", () -> SuiteImages.run("--cache", tmp.resolve("cache").toString(),
          "--work", tmp.resolve("work").toString(), "--accel", Guests.accelerator().toString(), "--guest-cpus",
          Guests.CPUS, recipe.toString()));
      distroRequests = distro.requests();
    }
    assertEquals(0, build.code(), build.out() + build.err());
    session = SuiteImages.slot("read-only appliance worker-rocky-9", () -> GuestfsSession.open(
        GuestfsSession.Options.readOnly(image, "qcow2", Guests.accelerator(), Duration.ofMinutes(10))
            .withCpus(Integer.parseInt(Guests.CPUS)), EventSink.NONE));
  }

  @AfterAll
  static void close() throws IOException {
    if (session != null) {
      session.close();
    }
  }

  @Test
  void buildsOfflineWithTheImagesDnfRelabelsAndVerifies() {
    String err = build.err();
    assertTrue(err.matches("(?s).*done verify in [0-9.]+ s \\(\\d+ checks passed\\).*"), err);
    assertTrue(err.contains("index baseos") && err.contains("index appstream"), "the image's own repositories: " + err);
    assertTrue(err.contains("firewalld not installed"), err);
    // the base is labelled (as EL's are): only what the build changed is labelled, not the ~14,000 paths
    java.util.regex.Matcher relabel = java.util.regex.Pattern.compile("relabelled (\\d+) paths the build changed "
        + "with the image's /usr/sbin/setfiles and its targeted policy \\(the base is labelled\\)").matcher(err);
    assertTrue(relabel.find(), err);
    int relabelled = Integer.parseInt(relabel.group(1));
    assertTrue(relabelled > 50 && relabelled < 3000, "relabelled " + relabelled);
    assertTrue(err.contains("the root file system is xfs"), "says it is not rebuilt byte for byte: " + err);
    // The lock read the distro repositories on the host (metadata and the packages it took); the
    // appliance has no network, so what the install did not try is noRepositoryIsContactedByTheInstall's.
    assertFalse(distroRequests.isEmpty());
    assertTrue(distroRequests.stream().allMatch(q -> q.method().equals("GET")
        && (q.path().contains("/repodata/") || q.path().endsWith(".rpm"))), distroRequests.toString());
  }

  @Test
  void theImagesOwnToolsReadItBack() throws IOException {
    assertEquals("rocky", session.os().distro());
    assertEquals(9, session.os().major());
    // the stand-in answers as an EL base: the release package, file provides, no Debian identity
    assertTrue(session.command(List.of("rpm", "-q", "--whatprovides", "system-release(releasever)"))
        .startsWith("rocky-release-9.4-"));
    assertTrue(session.command(List.of("rpm", "-qf", "/bin/sh")).startsWith("bash-"));
    assertTrue(session.command(List.of("rpm", "-q", "--qf", "%{SUMMARY}", "rocky-release")).startsWith("Test stand-in"));
    assertFalse(session.exists("/etc/debian_version"));
    assertTrue(session.exists("/etc/assemble-test-image"));
    String versions = session.command(List.of("rpm", "-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n",
        "kubelet", "kubeadm", "kubectl"));
    assertEquals("kubelet 1.34.2-150500.1.1\nkubeadm 1.34.2-150500.1.1\nkubectl 1.34.2-150500.1.1\n", versions);
    // rpm -V prints every difference and exits non-zero: the files are as the packages have them,
    // but for the configuration the build writes (containerd's config.toml, a %config file)
    assertEquals("rc=0", session.sh("rpm -V kubelet kubeadm kubectl qemu-guest-agent; echo rc=$?").strip());
    // (size and digest differ; its time is the epoch, which may equal the package's own when containerd.io
    // is the newest input)
    String config = session.sh("rpm -V containerd.io || true").strip();
    assertTrue(config.matches("S\\.5\\.\\.\\.\\.[T.]\\.  c /etc/containerd/config.toml"), config);
    for (String p : List.of("containerd.io", "conntrack-tools", "socat", "container-selinux")) {
      assertTrue(session.command(List.of("rpm", "-q", p)).startsWith(p + "-"), p);
    }
    // dnf's own configuration parser sees the Kubernetes repository and what it excludes
    String dnf = session.command(List.of("python3", "-c", "import dnf\nb = dnf.Base()\nb.read_all_repos()\n"
        + "r = b.repos['kubernetes']\nprint(r.enabled, ' '.join(r.excludepkgs))"));
    assertEquals("True kubelet kubeadm kubectl cri-tools kubernetes-cni", dnf.strip());
    String selinux = new String(session.read("/etc/selinux/config"), StandardCharsets.UTF_8);
    assertTrue(selinux.contains("\nSELINUX=permissive\n") && selinux.contains("SELINUXTYPE=targeted"), selinux);
    assertEquals(Units.State.MISSING, Units.state(session, "firewalld.service"));
    assertEquals(Units.State.DISABLED, Units.state(session, "kubelet.service"));
    assertEquals(Units.State.ENABLED, Units.state(session, "containerd.service"));
    assertNotEquals(Units.State.MISSING, Units.state(session, "qemu-guest-agent.service"));
    // labelled by the image's setfiles: files the packages put there, files and a new directory the
    // build wrote; the base's own labels kept as they were
    for (String f : List.of("/usr/bin/kubelet", "/etc/sysctl.d/99-kubernetes.conf", "/var/lib/containerd",
        "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db", "/usr/bin/bash")) {
      String label = session.command(List.of("python3", "-c",
          "import os, sys\nprint(os.getxattr(sys.argv[1], 'security.selinux').rstrip(b'\\0').decode())", f));
      assertTrue(label.startsWith("system_u:object_r:"), f + ": " + label);
      if (f.equals("/usr/bin/bash")) {
        assertEquals("system_u:object_r:shell_exec_t:s0", label.strip());
      }
    }
    assertFalse(session.exists("/.autorelabel"));
    ContainerdStore.Catalog store = ContainerdStore.read(session.read(
        "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db"), "k8s.io");
    assertTrue(store.images().stream().anyMatch(i -> i.name().equals("registry.k8s.io/pause:3.10.1")));
    // the xfs root grown to the plan's 8 GiB disk (less the 615 MiB before it); /boot not grown
    assertTrue(session.fileSystemBytes("/") > (7L << 30), "root: " + session.fileSystemBytes("/"));
    assertTrue(session.fileSystemBytes("/boot") < (1L << 30), "/boot: " + session.fileSystemBytes("/boot"));
  }

  /**
   * The image's enabled repositories (rocky.repo's baseos and appstream, the written kubernetes and
   * docker-ce .repo files) cannot be reached from the appliance and EL's dnf.conf says
   * skip_if_unavailable=False: the packages step's command line without {@code --disablerepo='*'}
   * fails on loading them, with it dnf touches none (the negative control of a build that passed).
   * On the finished image, read-only, with dnf's cache, log and state on a tmpfs.
   */
  @Test
  void noRepositoryIsContactedByTheInstall() throws IOException {
    Path rpm;
    try (var found = Files.newDirectoryStream(part.resolve("distro/rocky/9/AppStream/x86_64/os/Packages"),
        "container-selinux-*.rpm")) {
      rpm = found.iterator().next();
    }
    String state = " --setopt=cachedir=/tmp/dnf/cache --setopt=logdir=/tmp/dnf/log --setopt=persistdir=/tmp/dnf/lib";
    String file = "/tmp/" + rpm.getFileName();
    String step = io.hypervisor.assembler.steps.PackagesStep.dnfInstall(false, file).replaceFirst("^dnf ", "dnf" + state
        + " ");
    assertTrue(step.contains(" --disablerepo='*' "), step);
    String enabled = step.replace(" --disablerepo='*'", "");
    session.sh("mount -t tmpfs assemble-test /tmp");
    try {
      session.write(file, Files.readAllBytes(rpm), 0644);
      String tried = session.sh(enabled + " > /tmp/out 2>&1; echo rc=$?; cat /tmp/out");
      assertTrue(tried.matches("(?s)rc=1\n.*Failed to download metadata for repo '[a-z-]+'.*"), tried);
      String installed = session.sh(step + " > /tmp/out 2>&1; echo rc=$?; cat /tmp/out");
      assertTrue(installed.startsWith("rc=0\n"), installed); // the package is installed: nothing to do
      assertFalse(installed.contains("metadata"), installed);
    } finally {
      session.sh("umount /tmp");
    }
  }

  /**
   * A recipe naming another OS is refused on this base, by the CLI, both ways: from the base's
   * facts the step cache recorded (no appliance) and from the appliance's inspection.
   */
  @Test
  void aRecipeNamingAnotherOsIsRefused() throws IOException {
    Path alma = Files.writeString(tmp.resolve("almalinux-9-on-rocky.yaml"), Files.readString(recipe)
        .replace("os: rocky-9", "os: almalinux-9").replace("name: test-world-worker-rocky-9", "name: alma-on-rocky")
        .replace(image.toString(), tmp.resolve("out/alma-on-rocky.qcow2").toString()));
    for (String cache : List.of("--step-cache", "--no-step-cache")) {
      SuiteImages.Run r = SuiteImages.slot("almalinux-9 recipe on the rocky-9 base " + cache, () -> SuiteImages.run(
          "--cache", tmp.resolve("cache").toString(), "--work", tmp.resolve("refused-work").toString(), "--accel",
          Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, alma.toString(), cache));
      assertEquals(2, r.code(), cache + ": " + r.out() + r.err());
      assertTrue(r.err().contains("the base image is rocky 9.4 (rpm), but the recipe says base.os: almalinux-9"),
          cache + ": " + r.err());
      assertFalse(Files.exists(tmp.resolve("out/alma-on-rocky.qcow2")));
    }
  }

  /** The same boot checks as the Debian images' (BootVerifyIT), through GRUB on the xfs /boot. */
  @Test
  void bootsThroughItsOwnGrubAndPassesEveryBootCheck() throws IOException {
    SuiteImages.Run r = SuiteImages.slot("boot worker-rocky-9", () -> SuiteImages.run("--accel",
        Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "--work", tmp.resolve("boot-work").toString(),
        "--json", "verify", "--boot", image.toString(), "--recipe", recipe.toString()));
    JsonNode out = new ObjectMapper().readTree(r.out());
    Map<String, String> failed = new TreeMap<>();
    Set<String> names = new TreeSet<>();
    out.get("checks").forEach(c -> {
      names.add(c.get("name").asText());
      if (c.get("status").asText().equals("FAIL")) {
        failed.put(c.get("name").asText(), c.get("detail").asText());
      }
    });
    assertEquals(Map.of(), failed, r.out() + r.err());
    assertEquals(0, r.code(), r.err());
    assertEquals(BootVerifyIT.EXPECTED, names);
    String cri = out.toString();
    assertTrue(cri.contains("containerd 2.") && cri.contains("io.cri-containerd.pinned=pinned"), cri);
  }

  @Test
  void theUntouchedBaseFailsVerifyAndSaysWhatItLacks() {
    SuiteImages.Run v = SuiteImages.slot("verify the rocky-9 base", () -> SuiteImages.run("--accel",
        Guests.accelerator().toString(), "--work", tmp.resolve("verify-work").toString(), "verify", base.toString(),
        "--recipe", recipe.toString()));
    assertEquals(1, v.code(), v.out() + v.err());
    String all = v.out() + v.err();
    assertTrue(all.contains("package kubelet") && all.contains("containerd"), all);
  }
}
