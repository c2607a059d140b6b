package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.assemble.BootVerifier;
import io.hypervisor.assembler.assemble.Settings;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.steps.ImageFile;
import io.hypervisor.assembler.steps.KernelStep;
import io.hypervisor.assembler.steps.ServicesStep;
import io.hypervisor.assembler.testworld.SuiteImage;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.SuiteImages.Built;
import io.hypervisor.assembler.testworld.UsesImages;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code assemble verify --boot} on the suite's images, each booted once: the Debian 12 worker
 * (containerd.io 2.x), the control plane (Debian's containerd 1.6) and the Debian 13 worker boot
 * through their own GRUB with a NoCloud seed and no network and pass every check (CRI live, the
 * sandbox pinned where the line pins); a worker variant made with wrong step options (kubelet
 * enabled, a sysctl file without ip_forward) fails with exactly those checks named; a timeout
 * costs seconds; qemu and the overlay are always gone after.
 */
@Tag("integration")
@UsesImages(value = {SuiteImage.WORKER, SuiteImage.CONTROL_PLANE, SuiteImage.WORKER_DEBIAN_13}, boots = true)
class BootVerifyIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Every check a node that boots reports (RpmFamilyBuildIT expects the same). */
  static final Set<String> EXPECTED = Set.of("boot", "cloud-init finished", "cloud-init datasource",
      "cloud-init datasources enabled", "seed write_files", "kubelet not started", "containerd active", "containerd cri",
      "qemu-guest-agent active", "modules loaded", "sysctl live", "no swap", "kubelet version", "kubeadm version",
      "kubectl version", "ctr images", "sandbox image pinned", "crictl images", "container runs offline", "fresh machine-id",
      "fresh ssh host keys", "guest agent");

  private static Map<String, JsonNode> checks(SuiteImages.Run r, Path work) throws IOException {
    JsonNode out = JSON.readTree(r.out());
    Map<String, JsonNode> byName = new TreeMap<>();
    out.get("checks").forEach(c -> byName.put(c.get("name").asText(), c));
    assertEquals(Set.of(), leftovers(work), "qemu is gone and the boot overlay removed");
    assertEquals(out.get("ok").asBoolean() ? 0 : 1, r.code(), r.out() + r.err());
    return byName;
  }

  private static Set<String> leftovers(Path dir) throws IOException {
    Set<String> s = new TreeSet<>();
    if (!Files.isDirectory(dir)) {
      return s;
    }
    try (Stream<Path> work = Files.list(dir)) {
      work.filter(p -> p.getFileName().toString().startsWith("boot-") && Files.isDirectory(p))
          .forEach(p -> s.add(p.toString()));
    }
    // Only this boot's qemu (its overlay lies under this work directory): other boots run beside it.
    ProcessHandle.current().descendants().filter(h -> h.info().command().orElse("").contains("qemu-system"))
        .filter(h -> h.info().arguments().map(a -> List.of(a).contains("assemble-boot-verify")
            && String.join(" ", a).contains(dir + "/")).orElse(false)) // "boot-worker/", not "boot-worker-debian-13"
        .forEach(h -> s.add("qemu pid " + h.pid()));
    return s;
  }

  private static Set<String> failed(Map<String, JsonNode> checks) {
    Set<String> s = new TreeSet<>();
    checks.forEach((n, c) -> {
      if (c.get("status").asText().equals("FAIL")) {
        s.add(n);
      }
    });
    return s;
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(SuiteImage.class)
  void eachImageBootsAndPassesEveryCheck(SuiteImage image) throws IOException {
    Built b = SuiteImages.get(image);
    assertEquals(0, b.code(), b.out() + b.err());
    Map<String, JsonNode> checks = checks(SuiteImages.boot(image), SuiteImages.workDir("boot-" + image.label()));
    assertEquals(Set.of(), failed(checks), image + ": " + checks);
    assertEquals(EXPECTED, checks.keySet(), image.toString());
    boolean worker = image.role().equals("worker");
    assertTrue(checks.get("ctr images").get("detail").asText().startsWith((worker ? 8 : 12) + " images as planned"),
        checks.get("ctr images").toString());
    assertTrue(checks.get("cloud-init datasource").get("detail").asText().toLowerCase().contains("nocloud"));
    assertTrue(checks.get("guest agent").get("detail").asText().contains("guest-ping answered"));
    String cri = checks.get("containerd cri").get("detail").asText();
    String pinned = checks.get("sandbox image pinned").get("detail").asText();
    if (image.containerdIo()) {
      assertTrue(cri.startsWith("containerd 2."), cri);
      assertEquals("io.cri-containerd.pinned=pinned", pinned);
    } else {
      assertTrue(cri.startsWith("containerd 1.6."), cri);
      assertTrue(pinned.endsWith("does not pin"), pinned);
    }
  }

  @Test
  void aWorkerBuiltWithWrongStepOptionsFailsExactlyThoseChecks() throws IOException {
    Built w = SuiteImages.get(SuiteImage.WORKER);
    assertEquals(0, w.code(), w.out() + w.err());
    Path broken = w.image().resolveSibling("broken-worker.qcow2");
    Tools.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", w.image().toString(),
        broken.toString())).ok();
    try {
      // One slot for the edit (an appliance) and the boot: both are TCG guests.
      Path work = SuiteImages.workDir("boot-broken");
      SuiteImages.Run r = SuiteImages.slot("edit and boot " + broken.getFileName(), () -> {
        try (GuestfsSession image = GuestfsSession.open(new GuestfsSession.Options(broken, "qcow2", false, List.of(),
            Guests.accelerator(), 1024, Integer.parseInt(Guests.CPUS), Duration.ofMinutes(10), false, null, null),
            EventSink.NONE)) {
          // kubelet enabled as its package leaves it, and a sysctl file without ip_forward
          new ServicesStep(new ServicesStep.Options(List.of("containerd.service", "kubelet.service"), List.of(),
              List.of("swap.target"))).apply(image, EventSink.NONE);
          new KernelStep(new KernelStep.Options(List.of(new ImageFile("/etc/sysctl.d/99-kubernetes.conf", 0644,
              ("net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n")
                  .getBytes(StandardCharsets.UTF_8))))).apply(image, EventSink.NONE);
        }
        return SuiteImages.run("--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "--work", work.toString(), "--json",
            "verify", "--boot", broken.toString(), "--recipe", w.recipe().toString());
      });
      Map<String, JsonNode> checks = checks(r, work);
      assertEquals(Set.of("kubelet not started", "sysctl live"), failed(checks), checks.toString());
      assertTrue(checks.get("sysctl live").get("detail").asText().contains("net.ipv4.ip_forward=0"),
          checks.get("sysctl live").toString());
      assertFalse(checks.get("kubelet not started").get("detail").asText().endsWith("disabled"));
    } finally {
      Files.deleteIfExists(broken);
    }
  }

  /** A node that does not report in time fails "boot" with the console's end, and nothing is left running (seconds, not a boot). */
  @Test
  void aTimeoutKillsQemuAndRemovesTheOverlay() throws IOException {
    Built w = SuiteImages.get(SuiteImage.WORKER);
    assertEquals(0, w.code(), w.out() + w.err());
    Path work = SuiteImages.workDir("boot-timeout");
    Settings s = Settings.defaults(System.getenv()).withWorkDir(work).withAccelerator(Guests.accelerator());
    BootVerifier v = new BootVerifier(s, EventSink.NONE);
    BootVerifier.Result r = v.verify(w.image(), io.hypervisor.assembler.cli.LockCliIT.plan(w.recipe()),
        BootVerifier.Options.defaults(Guests.accelerator()).withTimeout(Duration.ofSeconds(10))
            .withCpus(Integer.parseInt(Guests.CPUS)));
    Check boot = r.checks().get(0);
    assertEquals(Check.Status.FAIL, boot.status(), r.checks().toString());
    assertTrue(boot.detail().startsWith("no complete report within"), boot.detail());
    assertEquals(Set.of(), leftovers(work), "qemu is gone and the boot overlay removed");
    assertTrue(Files.size(r.consoleLog()) > 0, "the console so far is kept for diagnosis");
  }
}
