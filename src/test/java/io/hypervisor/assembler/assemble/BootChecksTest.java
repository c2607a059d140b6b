package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.recipe.RecipeReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The boot checks' script, seed and console protocol, without booting: the script is valid POSIX
 * shell that really emits parseable lines (run here against a fake console file with stub
 * commands), and the user-data carries it byte for byte.
 */
class BootChecksTest {
  @TempDir
  Path tmp;

  static Plan plan() {
    return new Planner(KubernetesBom.load()).plan(new RecipeReader(Map.of(), List.of()).readText("""
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        base: {path: base.qcow2, os: debian-12}
        kubernetes: {version: 1.34.2, role: worker}
        containerd: {source: distro}
        """, "t.yaml").recipe(), List.of());
  }

  @Test
  void consoleLinesParseEvenWithKernelNoiseAround() {
    BootChecks.Line l = BootChecks.parse("[   53.9] cloud-init[469]: @@assemble|FAIL|sysctl live|net.ipv4.ip_forward=0@@")
        .orElseThrow();
    assertEquals(new Check("sysctl live", Check.Status.FAIL, "net.ipv4.ip_forward=0"), l.check());
    assertTrue(BootChecks.parse("@@assemble|DONE|19|@@").orElseThrow().done());
    assertFalse(BootChecks.parse("@@assemble|MAYBE|x|y@@").isPresent());
    assertFalse(BootChecks.parse("Debian GNU/Linux 12 localhost ttyS0").isPresent());
  }

  @Test
  void theUserDataIsCloudConfigCarryingTheScriptAndTheClusterFile() throws IOException {
    Plan plan = plan();
    String userData = BootChecks.userData(plan, "/dev/ttyS0");
    assertTrue(userData.startsWith("#cloud-config\n"));
    JsonNode y = new ObjectMapper(new YAMLFactory()).readTree(userData);
    assertEquals("/etc/hypervisor.io/cluster.json", y.at("/write_files/0/path").asText());
    assertEquals(BootChecks.script(plan, "/dev/ttyS0"), y.at("/write_files/1/content").asText());
    assertEquals("systemd-run", y.at("/runcmd/0/0").asText());
    assertEquals(8, BootChecks.expectedImages(plan).size());
  }

  /** The script under dash with every node command stubbed: all lines arrive, in order, then DONE. */
  @Test
  void theScriptRunsAndReportsEveryCheck() throws Exception {
    Plan plan = plan();
    Path bin = tmp.resolve("bin");
    Files.createDirectories(bin);
    Path console = tmp.resolve("console");
    String images = String.join("\n", BootChecks.expectedImages(plan));
    stub(bin, "cloud-init", "case \"$*\" in *query*) echo nocloud;; *) echo 'status: done';; esac");
    stub(bin, "systemctl", "case \"$*\" in *kubelet*) case \"$1\" in is-active) echo inactive; exit 3;; "
        + "*) echo disabled; exit 1;; esac;; *) echo active;; esac");
    stub(bin, "python3", "echo NoCloud, ConfigDrive");
    stub(bin, "sysctl", "echo 0");
    stub(bin, "kubelet", "echo Kubernetes v1.34.2");
    stub(bin, "kubeadm", "echo v1.34.2");
    stub(bin, "kubectl", "echo Client Version: v1.34.2");
    stub(bin, "ctr", "case \"$*\" in *'images ls'*) printf '%s\\n' '" + images.replace("\n", "' '")
        + "';; *'task ls'*) echo 'assemble-boot-check 1 RUNNING';; esac");
    stub(bin, "crictl", "exit 1");
    String script = BootChecks.script(plan, console.toString())
        .replace("export PATH=", "export PATH=" + bin + ":");
    Path file = tmp.resolve("checks.sh");
    Files.writeString(file, script);
    Process p = new ProcessBuilder("sh", file.toString()).redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    List<String> lines = Files.readAllLines(console, StandardCharsets.UTF_8);
    List<BootChecks.Line> parsed = lines.stream().map(BootChecks::parse).map(o -> o.orElseThrow()).toList();
    BootChecks.Line last = parsed.get(parsed.size() - 1);
    assertTrue(last.done());
    assertEquals(parsed.size() - 1, Integer.parseInt(last.name()));
    Map<String, BootChecks.Line> byName = new java.util.TreeMap<>();
    parsed.forEach(l -> byName.put(l.name(), l));
    assertEquals("OK", byName.get("kubelet not started").status(), byName.toString());
    assertEquals("OK", byName.get("ctr images").status(), byName.toString());
    assertEquals("8 images as planned", byName.get("ctr images").detail());
    assertEquals("FAIL", byName.get("sysctl live").status()); // the stub says 0
    assertEquals("SKIP", byName.get("crictl images").status());
    assertEquals("OK", byName.get("container runs offline").status(), byName.toString());
  }

  private static void stub(Path bin, String name, String body) throws IOException {
    Path f = bin.resolve(name);
    Files.writeString(f, "#!/bin/sh\n" + body + "\n");
    f.toFile().setExecutable(true);
  }

  @Test
  void qemuGetsNoNetworkTheAgentChannelAndTheRightAccelerator() {
    List<String> tcg = BootVerifier.command(Accelerator.TCG, BootVerifier.Options.defaults(Accelerator.TCG),
        Path.of("o.qcow2"), Path.of("seed.iso"), Path.of("qga.sock"));
    assertTrue(String.join(" ", tcg).contains("-nic none"));
    assertTrue(String.join(" ", tcg).contains("-accel tcg,thread=multi"));
    assertTrue(tcg.contains("virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"));
    assertFalse(String.join(" ", tcg).contains("netdev"));
    List<String> kvm = BootVerifier.command(Accelerator.KVM, BootVerifier.Options.defaults(Accelerator.KVM),
        Path.of("o.qcow2"), Path.of("seed.iso"), Path.of("qga.sock"));
    assertTrue(String.join(" ", kvm).contains("-accel kvm -cpu host"));
    assertEquals(Duration.ofMinutes(20), BootVerifier.Options.defaults(Accelerator.TCG).timeout());
  }
}
