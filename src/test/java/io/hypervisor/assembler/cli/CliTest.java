package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: outputs, messages and exit codes. */
class CliTest {
  @TempDir
  Path dir;

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void imagesDirAddsEveryTarballToThePlan(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws java.io.IOException {
    java.nio.file.Files.writeString(dir.resolve("b.tar"), "");
    java.nio.file.Files.writeString(dir.resolve("a.tar"), "");
    java.nio.file.Files.writeString(dir.resolve(".partial"), "");
    Run r = run("plan", "recipes/recipe-1.34-worker.yaml", "--images-dir", dir.toString());
    assertEquals(0, r.code(), r.err());
    int a = r.out().indexOf("image archive  " + dir.resolve("a.tar"));
    assertTrue(a > 0 && r.out().indexOf("image archive  " + dir.resolve("b.tar")) > a, r.out());
    assertTrue(!r.out().contains(".partial"), r.out());
  }

  @Test
  void planPrintsTheBillOfMaterials() {
    Run r = run("plan", "recipes/recipe-1.34-worker.yaml");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("plan hks-worker-1.34.2"), r.out());
    assertTrue(r.out().contains("registry.k8s.io/pause:3.10.1  [kubeadm, sandbox]"), r.out());
  }

  @Test
  void theMainJobRefusesAMissingBaseImageBeforeAnyWork(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
      throws IOException {
    java.nio.file.Path recipe = tmp.resolve("r.yaml");
    java.nio.file.Files.writeString(recipe, "apiVersion: assemble.hypervisor.io/v1\nkind: NodeImage\n"
        + "base: {path: " + tmp.resolve("no.qcow2") + ", os: debian-12}\nkubernetes: {version: 1.34.2, role: worker}\n"
        + "output: {path: " + tmp.resolve("out.qcow2") + "}\n");
    Run r = run("--cache", tmp.resolve("cache").toString(), recipe.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("the base image " + tmp.resolve("no.qcow2") + " does not exist"), r.err());
  }

  private static Path recipe(Path dir, String name, String base, Path out) throws IOException {
    Path recipe = dir.resolve(name + ".yaml");
    Files.writeString(recipe, "apiVersion: assemble.hypervisor.io/v1\nkind: NodeImage\nname: " + name + "\n"
        + "base: " + base + "\nkubernetes: {version: 1.34.2, role: worker}\n"
        + "output: {path: " + out + "}\n");
    return recipe;
  }

  @Test
  void severalRecipesBuildSideBySideAndTheWorstExitCodeWins() throws IOException {
    Path missing = recipe(dir, "missing-base", "{path: " + dir.resolve("no.qcow2") + ", os: debian-12}",
        dir.resolve("a.qcow2"));
    Path unreachable = recipe(dir, "unreachable-base", "{url: 'http://127.0.0.1:1/base.qcow2', sha256: "
        + "0".repeat(64) + ", os: debian-12}", dir.resolve("b.qcow2"));
    Run r = run("--cache", dir.resolve("cache").toString(), "--accel", "tcg", "--json", missing.toString(),
        unreachable.toString());
    assertEquals(2, r.code(), r.err());
    JsonNode n = new ObjectMapper().readTree(r.out());
    assertEquals("builds", n.get("kind").asText());
    assertEquals(2, n.get("exitCode").asInt());
    assertEquals("missing-base", n.get("builds").get(0).get("recipe").asText(), r.out());
    assertEquals(2, n.get("builds").get(0).get("exitCode").asInt(), r.out());
    assertEquals(1, n.get("builds").get(1).get("exitCode").asInt(), "a fetch failure does not stop the other: "
        + r.out());
    assertTrue(r.err().contains("missing-base: error: the base image " + dir.resolve("no.qcow2") + " does not exist"),
        r.err());
    assertTrue(r.err().lines().anyMatch(l -> l.startsWith("unreachable-base: error: ")), r.err());

    Path missing2 = recipe(dir, "missing-too", "{path: " + dir.resolve("no2.qcow2") + ", os: debian-12}",
        dir.resolve("c.qcow2"));
    Run table = run("--cache", dir.resolve("cache").toString(), "--accel", "tcg", missing.toString(),
        missing2.toString());
    assertEquals(2, table.code());
    assertTrue(table.out().startsWith("recipe "), table.out());
    assertTrue(table.out().lines().anyMatch(l -> l.startsWith("missing-base ") && l.contains("exit 2")), table.out());
    assertTrue(table.out().lines().anyMatch(l -> l.startsWith("missing-too ") && l.contains("exit 2")), table.out());

    Run locked = run("--accel", "tcg", missing.toString(), unreachable.toString(), "--lock", "x.lock.json");
    assertEquals(2, locked.code());
    assertTrue(locked.err().contains("belong to one recipe"), locked.err());
    Path same = recipe(dir, "same-output", "{path: " + dir.resolve("no.qcow2") + ", os: debian-12}",
        dir.resolve("a.qcow2"));
    Run clash = run("--accel", "tcg", missing.toString(), same.toString());
    assertEquals(2, clash.code());
    assertTrue(clash.err().contains("both write " + dir.resolve("a.qcow2")), clash.err());
  }

  @Test
  void planJsonIsMachineReadable() throws IOException {
    Run r = run("plan", "--json", "recipes/recipe-1.36-combined.yaml");
    assertEquals(0, r.code(), r.err());
    JsonNode n = new ObjectMapper().readTree(r.out());
    assertEquals("hks-combined-1.36.1", n.get("name").asText());
    assertEquals("rocky-9", n.get("base").get("distro").asText());
  }

  @Test
  void invalidRecipeExits2WithEveryProblemOnItsOwnLine() throws IOException {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, """
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        base: {path: x.qcow2, os: debian-12}
        kubernetes: {version: "1.34", role: worker, cnii: calico}
        """);
    Run r = run("plan", bad.toString());
    assertEquals(2, r.code());
    List<String> lines = r.err().lines().toList();
    assertTrue(lines.get(0).startsWith("error: recipe " + bad + " is invalid (2 problems)"), r.err());
    assertTrue(r.err().contains(bad + ":4:23: kubernetes.version: \"1.34\" is not a patch version"), r.err());
    assertTrue(r.err().contains("unknown key \"cnii\" (hint: did you mean \"cni\"?)"), r.err());
    assertTrue(!r.err().contains("Exception"), "no stack trace without --debug: " + r.err());
  }

  @Test
  void missingRecipeFileExits2() {
    Run r = run("plan", dir.resolve("nope.yaml").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("does not exist"), r.err());
  }

  @Test
  void usageErrorsExit2WithAHint() {
    Run r = run("plan", "--frobnicate", "recipes/recipe-1.34-worker.yaml");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("Unknown option: '--frobnicate'"), r.err());
    assertTrue(r.err().contains("hint: run `assemble plan --help`"), r.err());
    assertEquals(2, run().code());
    assertEquals(2, run("--accel", "warp", "doctor").code());
  }

  @Test
  void imagesListsOnePerLine() {
    Run r = run("images", "--kubernetes-version", "1.34.2", "--role", "worker", "--cni", "cilium");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of(
        "registry.k8s.io/kube-proxy:v1.34.2",
        "registry.k8s.io/coredns/coredns:v1.12.1",
        "registry.k8s.io/pause:3.10.1",
        "quay.io/cilium/cilium:v1.19.3",
        "quay.io/cilium/operator-generic:v1.19.3",
        "quay.io/cilium/cilium-envoy:v1.36.6-1776000132-2437d2edeaf4d9b56ef279bd0d71127440c067aa",
        "registry.k8s.io/metrics-server/metrics-server:v0.9.0",
        "ghcr.io/hypervisor-io/cluster-autoscaler-hypervisor:v1.34.1"), r.out().lines().toList());
  }

  @Test
  void imagesRejectsABareMinor() {
    Run r = run("images", "--kubernetes-version", "1.34", "--role", "cp");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("\"1.34\" is not a patch version; expected e.g. 1.34.2"), r.err());
  }

  @Test
  void everyVerbExplainsItselfWithAnExample() {
    for (String verb : List.of("plan", "images", "doctor", "pull", "inspect", "cache", "seed")) {
      Run r = run(verb, "--help");
      assertEquals(0, r.code(), verb);
      assertTrue(r.out().contains("Examples:") && r.out().contains("assemble " + verb), verb + ": " + r.out());
    }
    Run top = run("--help");
    assertTrue(top.out().contains("Exit codes: 0 ok, 1 build failed, 2 invalid input"), top.out());
  }
}
