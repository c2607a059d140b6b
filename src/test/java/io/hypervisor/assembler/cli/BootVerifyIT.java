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
import io.hypervisor.assembler.testworld.BuiltImages;
import io.hypervisor.assembler.testworld.BuiltImages.Built;
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

/**
 * {@code assemble verify --boot} on the test world's built images: the worker and the control
 * plane boot through their own GRUB with a NoCloud seed and no network and pass every check; a
 * worker variant made with wrong step options (kubelet enabled, a sysctl file without
 * ip_forward) fails with exactly those checks named; qemu and the overlay are always gone after.
 */
@Tag("integration")
class BootVerifyIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> EXPECTED = Set.of("boot", "cloud-init finished", "cloud-init datasource",
      "cloud-init datasources enabled", "seed write_files", "kubelet not started", "containerd active",
      "qemu-guest-agent active", "modules loaded", "sysctl live", "no swap", "kubelet version", "kubeadm version",
      "kubectl version", "ctr images", "crictl images", "container runs offline", "fresh machine-id",
      "fresh ssh host keys", "guest agent");

  /** Runs {@code verify --boot --json}; the checks by name. */
  private static Map<String, JsonNode> boot(Built b, Path image) throws IOException {
    CliTest.Run r = CliTest.run("--accel", Guests.accelerator().toString(), "--work", b.work().toString(), "--json",
        "verify", "--boot", image.toString(), "--recipe", b.recipe().toString());
    JsonNode out = JSON.readTree(r.out());
    Map<String, JsonNode> byName = new TreeMap<>();
    out.get("checks").forEach(c -> byName.put(c.get("name").asText(), c));
    assertEquals(Set.of(), leftovers(b), "qemu is gone and the boot overlay removed");
    assertEquals(out.get("ok").asBoolean() ? 0 : 1, r.code(), r.out() + r.err());
    return byName;
  }

  private static Set<String> leftovers(Built b) throws IOException {
    Set<String> s = new TreeSet<>();
    try (Stream<Path> work = Files.list(b.work())) {
      work.filter(p -> p.getFileName().toString().startsWith("boot-") && Files.isDirectory(p))
          .forEach(p -> s.add(p.toString()));
    }
    ProcessHandle.current().descendants().filter(h -> h.info().command().orElse("").contains("qemu-system"))
        .filter(h -> h.info().arguments().map(a -> List.of(a).contains("assemble-boot-verify")).orElse(false))
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

  @Test
  void theWorkerAndControlPlaneBootAndPassEveryCheck() throws IOException {
    for (String role : List.of("worker", "control-plane")) {
      Built b = BuiltImages.get(role);
      assertEquals(0, b.code(), b.out() + b.err());
      Map<String, JsonNode> checks = boot(b, b.image());
      assertEquals(Set.of(), failed(checks), role + ": " + checks);
      assertEquals(EXPECTED, checks.keySet(), role);
      assertTrue(checks.get("ctr images").get("detail").asText().startsWith(
          (role.equals("worker") ? 8 : 12) + " images as planned"), checks.get("ctr images").toString());
      assertTrue(checks.get("cloud-init datasource").get("detail").asText().toLowerCase().contains("nocloud"));
      assertTrue(checks.get("guest agent").get("detail").asText().contains("guest-ping answered"));
    }
  }

  @Test
  void aWorkerBuiltWithWrongStepOptionsFailsExactlyThoseChecks() throws IOException {
    Built w = BuiltImages.get("worker");
    assertEquals(0, w.code(), w.out() + w.err());
    Path broken = w.image().resolveSibling("broken-worker.qcow2");
    Tools.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", w.image().toString(),
        broken.toString())).ok();
    try {
      try (GuestfsSession image = GuestfsSession.open(new GuestfsSession.Options(broken, "qcow2", false, List.of(),
          Guests.accelerator(), 1024, 2, Duration.ofMinutes(2), false, null, null), EventSink.NONE)) {
        // kubelet enabled as its package leaves it, and a sysctl file without ip_forward
        new ServicesStep(new ServicesStep.Options(List.of("containerd.service", "kubelet.service"), List.of(),
            List.of("swap.target"))).apply(image, EventSink.NONE);
        new KernelStep(new KernelStep.Options(List.of(new ImageFile("/etc/sysctl.d/99-kubernetes.conf", 0644,
            ("net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n")
                .getBytes(StandardCharsets.UTF_8))))).apply(image, EventSink.NONE);
      }
      Map<String, JsonNode> checks = boot(w, broken);
      assertEquals(Set.of("kubelet not started", "sysctl live"), failed(checks), checks.toString());
      assertTrue(checks.get("sysctl live").get("detail").asText().contains("net.ipv4.ip_forward=0"),
          checks.get("sysctl live").toString());
      assertFalse(checks.get("kubelet not started").get("detail").asText().endsWith("disabled"));
    } finally {
      Files.deleteIfExists(broken);
    }
  }

  /** A node that does not report in time fails "boot" with the console's end, and nothing is left running. */
  @Test
  void aTimeoutKillsQemuAndRemovesTheOverlay() throws IOException {
    Built w = BuiltImages.get("worker");
    assertEquals(0, w.code(), w.out() + w.err());
    Settings s = Settings.defaults(System.getenv()).withWorkDir(w.work()).withAccelerator(Guests.accelerator());
    BootVerifier v = new BootVerifier(s, EventSink.NONE);
    BootVerifier.Result r = v.verify(w.image(), io.hypervisor.assembler.cli.LockCliIT.plan(w.recipe()),
        BootVerifier.Options.defaults(Guests.accelerator()).withTimeout(Duration.ofSeconds(20)));
    Check boot = r.checks().get(0);
    assertEquals(Check.Status.FAIL, boot.status(), r.checks().toString());
    assertTrue(boot.detail().startsWith("no complete report within"), boot.detail());
    assertEquals(Set.of(), leftovers(w), "qemu is gone and the boot overlay removed");
    assertTrue(Files.size(r.consoleLog()) > 0, "the console so far is kept for diagnosis");
  }
}
