package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.SuiteImage;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.SuiteImages.Built;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.testworld.UsesImages;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code assemble RECIPE} end to end on the test world, through the CLI, for every suite image:
 * each builds, passes its own verify, is a clean zstd qcow2 of the planned size, and carries the
 * catalogue manifest of what went in (the locked packages, the registry's digests, the role's
 * images, the containerd the lock installed); a fresh {@code assemble verify --json} of the
 * worker passes; verify on the untouched base fails and names what is missing. (A build killed
 * during the package step, and one with no network at all: BundleIT.)
 */
@Tag("integration")
@UsesImages({SuiteImage.WORKER, SuiteImage.CONTROL_PLANE, SuiteImage.WORKER_DEBIAN_13})
class BuildCliIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> WORKER_ONLY = Set.of("ghcr.io/hypervisor-io/cluster-autoscaler-hypervisor:v1.34.1");
  private static final Set<String> CP_ONLY = Set.of("ghcr.io/hypervisor-io/cloud-controller-manager-hypervisor:latest");

  @ParameterizedTest(name = "{0}")
  @EnumSource(SuiteImage.class)
  void eachImageBuildsVerifiesAndDescribesItself(SuiteImage suiteImage) throws IOException {
    Built w = SuiteImages.get(suiteImage);
    assertEquals(0, w.code(), w.out() + w.err());
    assertTrue(w.err().matches("(?s).*done verify in [0-9.]+ s \\(\\d+ checks passed\\).*"), w.err());
    assertTrue(w.out().contains("built " + w.image()), w.out());
    for (String step : List.of("repositories", "packages", "kernel", "swap", "services", "containerd-config",
        "image-store", "cloud-init", "cleanup", "tree", "finish")) {
      assertTrue(w.err().contains("==> " + step + "\n"), "step " + step + " ran: " + w.err());
    }
    assertTrue(Files.isRegularFile(w.image()));

    // qemu-img agrees: a clean zstd-compressed qcow2 of the planned virtual size.
    assertEquals(0, Tools.run(List.of("qemu-img", "check", w.image().toString())).code());
    JsonNode info = JSON.readTree(Tools.run(List.of("qemu-img", "info", "--output=json", w.image().toString())).ok().out());
    assertEquals("qcow2", info.get("format").asText());
    assertEquals("zstd", info.at("/format-specific/data/compression-type").asText());
    assertEquals(8L << 30, info.get("virtual-size").asLong());

    JsonNode m = JSON.readTree(w.manifest().toFile());
    try (InputStream in = Files.newInputStream(w.image())) {
      assertEquals(Digest.of("sha256", in).encoded(), m.at("/image/sha256").asText());
    }
    assertEquals(Files.size(w.image()), m.at("/image/size").asLong());
    // Every build describes itself (SBOMs, provenance, checksums); only a signed one has the .asc.
    JsonNode files = m.get("files");
    assertEquals(suiteImage.signed(), files.has("checksumsSignature"), files.toString());
    assertEquals(5 + (suiteImage.signed() ? 1 : 0), files.size(), files.toString());
    // Every image of the suite has an ext4 root: rebuilt in one pass, so bytes (not just the tree) repeat.
    assertEquals("bytes", m.at("/reproducible/identity").asText(), m.toString());
    assertTrue(m.at("/reproducible/treeDigest").asText().startsWith("sha256:"), m.toString());
    files.forEach(f -> assertTrue(Files.isRegularFile(w.image().resolveSibling(f.asText())), f.asText()));
    JsonNode box = m.get("vagrantBox");
    assertEquals(suiteImage.vagrantBox(), box != null, m.toString());
    if (box != null) {
      // The box is sealed like the image, and vagrant (Debian's, with vagrant-libvirt) takes it as it is.
      Path boxFile = w.image().resolveSibling(box.get("file").asText());
      assertEquals("vagrant-libvirt", box.get("format").asText());
      try (InputStream in = Files.newInputStream(boxFile)) {
        assertEquals(Digest.of("sha256", in).encoded(), box.get("sha256").asText());
      }
      assertTrue(Files.readString(w.image().resolveSibling(files.get("checksums").asText()))
          .contains(box.get("sha256").asText() + "  " + boxFile.getFileName()), "SHA256SUMS lists the box");
      io.hypervisor.assembler.publish.VagrantBoxTest.addedByVagrant(boxFile, w.image(),
          Files.createTempDirectory("vagrant-home"));
    }
    if (suiteImage.published()) {
      // output.publish ran after the build: the manifest names the containerDisk by digest and the
      // checksums were made again over it.
      String ref = m.get("published").asText();
      assertTrue(ref.matches("127\\.0\\.0\\.1:\\d+/kubevirt/test-world-" + suiteImage.label() + "@sha256:[0-9a-f]{64}"), ref);
      assertEquals(ref, m.at("/registration/url").asText());
      assertTrue(w.out().contains("published "), w.out());
      Tools.run(List.of("sha256sum", "-c", files.get("checksums").asText()), w.image().getParent(), 600).ok();
    } else {
      assertEquals("${IMAGE_URL}", m.at("/registration/url").asText());
    }
    assertEquals("test-world-" + suiteImage.label(), m.get("tag").asText()); // the recipe's name is the tag
    assertEquals(suiteImage.role(), m.at("/kubernetes/role").asText());
    assertEquals("1.34.2", m.at("/kubernetes/version").asText());
    boolean worker = suiteImage.role().equals("worker");
    assertEquals(worker ? "Kubernetes Worker" : "Kubernetes Control Plane", m.at("/registration/purpose").asText());
    JsonNode lock = JSON.readTree(w.lock().toFile());
    assertEquals(lock.get("packages"), m.get("packages"), "the manifest lists exactly the locked packages");
    String runtime = suiteImage.containerdIo() ? "containerd.io" : "containerd";
    assertTrue(m.get("packages").findValuesAsText("name").containsAll(List.of("kubelet", "kubeadm", "kubectl",
        runtime, "qemu-guest-agent", "cri-tools", "kubernetes-cni")));
    String containerd = m.at("/kubernetes/containerd").asText();
    if (suiteImage.containerdIo()) {
      // Docker's package naming: <upstream>-1~debian.<N>~<suite>, the 2.x line the stand-in serves
      assertTrue(containerd.matches("2\\.\\d+\\.\\d+-1~debian\\.\\d+~" + suiteImage.suite()), containerd);
    } else {
      assertTrue(containerd.startsWith("1.6.20"), containerd);
    }
    Set<String> refs = new TreeSet<>();
    for (JsonNode i : m.get("images")) {
      refs.add(i.get("ref").asText());
      assertEquals(Fixtures.published(i.get("ref").asText()).digest(), i.get("digest").asText());
    }
    if (worker) {
      assertTrue(refs.containsAll(WORKER_ONLY) && refs.stream().noneMatch(CP_ONLY::contains), refs.toString());
    } else {
      assertTrue(refs.containsAll(CP_ONLY) && refs.stream().noneMatch(WORKER_ONLY::contains), refs.toString());
      assertTrue(refs.contains("registry.k8s.io/kube-apiserver:v1.34.2"), refs.toString());
    }
    // The build's own verify saw containerd's line, config version and store schema agree.
    int config = suiteImage.containerdIo() ? 3 : 2;
    int schema = suiteImage.containerdIo() ? 4 : 3;
    assertTrue(w.out().matches("(?s).*OK +containerd +" + java.util.regex.Pattern.quote(runtime + " ") + "\\S+: config "
        + "version " + config + ", CRI on, metadata schema " + schema + ".*"), w.out());
  }

  @Test
  void theControlPlaneDropsTheBaseSwap() {
    Built cp = SuiteImages.get(SuiteImage.CONTROL_PLANE);
    assertEquals(0, cp.code(), cp.out() + cp.err());
    // The base had a swap line in fstab; the swap step removed it and verify saw that.
    assertTrue(cp.out().matches("(?s).*OK +swap +no swap in /etc/fstab.*"), cp.out());
    assertTrue(cp.err().matches("(?s).*done swap in [0-9.]+ s \\(removed /swapfile, swap.target masked\\).*"), cp.err());
  }

  @Test
  void noPartialFilesOrWorkDirectoriesAreLeft() throws IOException {
    Built w = SuiteImages.get(SuiteImage.WORKER);
    SuiteImages.get(SuiteImage.CONTROL_PLANE);
    SuiteImages.get(SuiteImage.WORKER_DEBIAN_13);
    assertEquals("", leftovers(w), "no partial files or work directories are left");
  }

  @Test
  void aFreshVerifyOfTheWorkerPassesAsJson() throws IOException {
    Built w = SuiteImages.get(SuiteImage.WORKER);
    // A fresh verify of the written file, as an admin would run it, machine-readable.
    CliTest.Run v = CliTest.run("--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "--json", "verify", w.image().toString(),
        "--recipe", w.recipe().toString(), "--lock", w.lock().toString());
    assertEquals(0, v.code(), v.out() + v.err());
    JsonNode checks = JSON.readTree(v.out());
    assertTrue(checks.get("ok").asBoolean(), v.out());
  }

  @Test
  void verifyOnTheUntouchedBaseFailsAndNamesEachMissingPiece() throws IOException {
    Built w = SuiteImages.get(SuiteImage.WORKER);
    Path base = SuiteImage.WORKER.base();
    Digest before;
    try (InputStream in = Files.newInputStream(base)) {
      before = Digest.of("sha256", in);
    }
    CliTest.Run v = CliTest.run("--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "verify", base.toString(),
        "--recipe", w.recipe().toString());
    assertEquals(1, v.code(), v.out() + v.err());
    for (String check : List.of("package kubelet", "binary kubeadm", "unit containerd.service", "modules", "sysctl",
        "containerd", "image store", "cloud-init datasources", "hygiene")) {
      assertTrue(v.out().matches("(?s).*\\nFAIL +" + java.util.regex.Pattern.quote(check) + " .*"),
          check + " fails: " + v.out());
    }
    assertTrue(v.out().contains("checks failed"), v.out());
    try (InputStream in = Files.newInputStream(base)) {
      assertEquals(before, Digest.of("sha256", in), "verify never writes");
    }
  }

  /** Partial outputs beside the image and work directories left by builds, one per line. */
  private static String leftovers(Built b) throws IOException {
    StringBuilder s = new StringBuilder();
    try (Stream<Path> out = Files.list(b.image().getParent())) {
      out.filter(p -> p.getFileName().toString().endsWith(".partial")
            || p.getFileName().toString().endsWith(".tmp")).forEach(p -> s.append(p).append('\n'));
    }
    if (Files.isDirectory(b.work())) {
      try (Stream<Path> work = Files.list(b.work())) {
        work.filter(p -> p.getFileName().toString().startsWith("build-")).forEach(p -> s.append(p).append('\n'));
      }
    }
    return s.toString();
  }
}
