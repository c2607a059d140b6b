package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.testworld.BuiltImages;
import io.hypervisor.assembler.testworld.BuiltImages.Built;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code assemble RECIPE} end to end on the test world, through the CLI: worker and control-plane
 * images build, verify (the build's own verify and a fresh {@code assemble verify}), carry the
 * catalogue manifest of what went in; verify on the untouched base fails and names what is
 * missing. (A build killed during the package step, and the next one with no network at all:
 * BundleIT.)
 */
@Tag("integration")
class BuildCliIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> WORKER_ONLY = Set.of("ghcr.io/hypervisor-io/cluster-autoscaler-hypervisor:v1.34.1");
  private static final Set<String> CP_ONLY = Set.of("ghcr.io/hypervisor-io/cloud-controller-manager-hypervisor:latest");

  @Test
  void theWorkerImageBuildsVerifiesAndDescribesItself() throws IOException {
    Built w = BuiltImages.get("worker");
    assertEquals(0, w.code(), w.out() + w.err());
    assertTrue(w.err().matches("(?s).*done verify in [0-9.]+ s \\(\\d+ checks passed\\).*"), w.err());
    assertTrue(w.out().contains("built " + w.image()), w.out());
    for (String step : List.of("repositories", "packages", "kernel", "swap", "services", "containerd-config",
        "image-store", "cloud-init", "cleanup", "finish")) {
      assertTrue(w.err().contains("==> " + step + "\n"), "step " + step + " ran: " + w.err());
    }
    assertTrue(Files.isRegularFile(w.image()));
    assertEquals("", leftovers(w), "no partial files or work directories are left");

    // qemu-img agrees: a clean zstd-compressed qcow2 of the planned virtual size.
    assertEquals(0, Tools.run(List.of("qemu-img", "check", w.image().toString())).code());
    JsonNode info = JSON.readTree(Tools.run(List.of("qemu-img", "info", "--output=json", w.image().toString())).ok().out());
    assertEquals("qcow2", info.get("format").asText());
    assertEquals("zstd", info.at("/format-specific/data/compression-type").asText());
    assertEquals(8L << 30, info.get("virtual-size").asLong());

    JsonNode m = JSON.readTree(w.manifest().toFile());
    assertEquals(Digest.sha256(Files.readAllBytes(w.image())).encoded(), m.at("/image/sha256").asText());
    assertEquals(Files.size(w.image()), m.at("/image/size").asLong());
    assertEquals("test-world-worker", m.get("tag").asText()); // the recipe's name is the tag
    assertEquals("worker", m.at("/kubernetes/role").asText());
    assertEquals("1.34.2", m.at("/kubernetes/version").asText());
    assertEquals("Kubernetes Worker", m.at("/registration/purpose").asText());
    assertEquals("${IMAGE_URL}", m.at("/registration/url").asText());
    JsonNode lock = JSON.readTree(w.lock().toFile());
    assertEquals(lock.get("packages"), m.get("packages"), "the manifest lists exactly the locked packages");
    assertTrue(m.get("packages").findValuesAsText("name").containsAll(List.of("kubelet", "kubeadm", "kubectl",
        "containerd", "qemu-guest-agent", "cri-tools", "kubernetes-cni")));
    Set<String> refs = new TreeSet<>();
    for (JsonNode i : m.get("images")) {
      refs.add(i.get("ref").asText());
      assertEquals(Fixtures.published(i.get("ref").asText()).digest(), i.get("digest").asText());
    }
    assertTrue(refs.containsAll(WORKER_ONLY) && refs.stream().noneMatch(CP_ONLY::contains), refs.toString());

    // A fresh verify of the written file, as an admin would run it, machine-readable.
    CliTest.Run v = CliTest.run("--accel", Guests.accelerator().toString(), "--json", "verify", w.image().toString(),
        "--recipe", w.recipe().toString(), "--lock", w.lock().toString());
    assertEquals(0, v.code(), v.out() + v.err());
    JsonNode checks = JSON.readTree(v.out());
    assertTrue(checks.get("ok").asBoolean(), v.out());
  }

  @Test
  void theControlPlaneImageCarriesItsOwnImagesAndDropsTheBaseSwap() throws IOException {
    Built cp = BuiltImages.get("control-plane");
    assertEquals(0, cp.code(), cp.out() + cp.err());
    JsonNode m = JSON.readTree(cp.manifest().toFile());
    assertEquals("test-world-control-plane", m.get("tag").asText());
    assertEquals("Kubernetes Control Plane", m.at("/registration/purpose").asText());
    Set<String> refs = new TreeSet<>(m.get("images").findValuesAsText("ref"));
    assertTrue(refs.containsAll(CP_ONLY) && refs.stream().noneMatch(WORKER_ONLY::contains), refs.toString());
    assertTrue(refs.contains("registry.k8s.io/kube-apiserver:v1.34.2"), refs.toString());
    // The base had a swap line in fstab; the swap step removed it and verify saw that.
    assertTrue(cp.out().matches("(?s).*OK +swap +no swap in /etc/fstab.*"), cp.out());
    assertTrue(cp.err().matches("(?s).*done swap in [0-9.]+ s \\(removed /swapfile, swap.target masked\\).*"), cp.err());
  }

  @Test
  void verifyOnTheUntouchedBaseFailsAndNamesEachMissingPiece() throws IOException {
    Built w = BuiltImages.get("worker");
    Path base = Fixtures.part("base-image").resolve("debian-12-generic.qcow2");
    Digest before = Digest.sha256(Files.readAllBytes(base));
    CliTest.Run v = CliTest.run("--accel", Guests.accelerator().toString(), "verify", base.toString(),
        "--recipe", w.recipe().toString());
    assertEquals(1, v.code(), v.out() + v.err());
    for (String check : List.of("package kubelet", "binary kubeadm", "unit containerd.service", "modules", "sysctl",
        "image store", "cloud-init datasources", "hygiene")) {
      assertTrue(v.out().matches("(?s).*\\nFAIL +" + java.util.regex.Pattern.quote(check) + " .*"),
          check + " fails: " + v.out());
    }
    assertTrue(v.out().contains("checks failed"), v.out());
    assertEquals(before, Digest.sha256(Files.readAllBytes(base)), "verify never writes");
  }

  /** Partial outputs beside the image and work directories left by builds, one per line. */
  private static String leftovers(Built b) throws IOException {
    StringBuilder s = new StringBuilder();
    try (Stream<Path> out = Files.list(b.image().getParent())) {
      out.filter(p -> p.getFileName().toString().endsWith(".partial")).forEach(p -> s.append(p).append('\n'));
    }
    if (Files.isDirectory(b.work())) {
      try (Stream<Path> work = Files.list(b.work())) {
        work.filter(p -> p.getFileName().toString().startsWith("build-")).forEach(p -> s.append(p).append('\n'));
      }
    }
    return s.toString();
  }
}
