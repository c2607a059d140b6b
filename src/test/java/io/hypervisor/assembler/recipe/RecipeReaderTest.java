package io.hypervisor.assembler.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Problem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeReaderTest {
  @TempDir
  Path dir;

  static final String MINIMAL = """
      apiVersion: assemble.hypervisor.io/v1
      kind: NodeImage
      base:
        path: base.qcow2
        os: debian-12
      kubernetes:
        version: 1.34.2
        role: worker
      """;

  Path write(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
    return p;
  }

  List<Problem> problems(String text) throws IOException {
    Path p = write("r.yaml", text);
    AssemblerException e = assertThrows(AssemblerException.class, () -> new RecipeReader().read(p));
    assertEquals(AssemblerException.Kind.INPUT, e.kind());
    return e.problems();
  }

  static String render(List<Problem> ps) {
    return String.join("\n", ps.stream().map(Problem::render).toList());
  }

  @Test
  void minimalRecipeReadsWithNullsForDefaults() throws IOException {
    Recipe r = new RecipeReader().read(write("r.yaml", MINIMAL)).recipe();
    assertEquals("1.34.2", r.kubernetes().version());
    assertEquals(Recipe.Role.WORKER, r.kubernetes().role());
    assertEquals("cilium", r.kubernetes().cni().name());
    assertNull(r.kubernetes().cni().version());
    assertEquals(dir.resolve("base.qcow2"), r.base().path(), "relative to the recipe's directory");
    assertNull(r.disk().sizeBytes());
    assertNull(r.name());
  }

  @Test
  void everyProblemIsReportedAtOnceWithPathAndLineColumn() throws IOException {
    List<Problem> ps = problems("""
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        base:
          path: base.qcow2
          os: debian-11
        kubernetes:
          version: 1.34
          role: wroker
          cnii: calico
        disk:
          size: lots
        output:
          compression: xz
        """);
    String all = render(ps);
    assertEquals(6, ps.size(), all);
    assertTrue(all.contains("r.yaml:5:7: base.os: debian 11 is not supported"), all);
    assertTrue(all.contains("r.yaml:7:12: kubernetes.version: \"1.34\" is not a patch version; expected e.g. 1.34.2"), all);
    assertTrue(all.contains("kubernetes.role: \"wroker\" is not a role (hint: did you mean \"worker\"?)"), all);
    assertTrue(all.contains("r.yaml:9:3: kubernetes.cnii: unknown key \"cnii\" (hint: did you mean \"cni\"?)"), all);
    assertTrue(all.contains("disk.size: \"lots\" is not a size"), all);
    assertTrue(all.contains("output.compression: \"xz\" is not allowed"), all);
  }

  @Test
  void missingSectionsAndTopLevelTypos() throws IOException {
    String all = render(problems("""
        apiVersion: assemble.hypervisor.io/v2
        kind: NodeImage
        kubernetse: {version: 1.34.2, role: worker}
        """));
    assertTrue(all.contains("unsupported apiVersion"), all);
    assertTrue(all.contains("missing required section \"base\""), all);
    assertTrue(all.contains("missing required section \"kubernetes\""), all);
    assertTrue(all.contains("unknown key \"kubernetse\" (hint: did you mean \"kubernetes\"?)"), all);
  }

  @Test
  void invalidYamlIsAProblemWithAPosition() throws IOException {
    String all = render(problems("apiVersion: x\nkind: [unclosed\n"));
    assertTrue(all.contains("r.yaml:2:"), all);
    assertTrue(all.contains("not valid YAML: while parsing a flow sequence; expected ',' or ']'"), all);
  }

  @Test
  void duplicateKeysAreReported() throws IOException {
    String all = render(problems(MINIMAL + "kubernetes:\n  version: 1.34.3\n  role: worker\n"));
    assertTrue(all.contains("duplicate key \"kubernetes\""), all);
  }

  @Test
  void extendsMergesMappingsAndTheRecipeWins() throws IOException {
    write("shared/defaults.yaml", """
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImageDefaults
        base: {os: debian-12, arch: arm64}
        sysctl: {vm.max_map_count: "262144", net.core.somaxconn: "1024"}
        packages: [htop]
        catalogue: {public: true}
        output: {path: images/out.qcow2}
        """);
    Path r = write("r.yaml", """
        apiVersion: assemble.hypervisor.io/v1
        kind: NodeImage
        extends: shared/defaults.yaml
        base: {path: base.qcow2}
        kubernetes: {version: 1.34.2, role: cp}
        sysctl: {net.core.somaxconn: "4096"}
        packages: [vim]
        """);
    Recipe rec = new RecipeReader().read(r).recipe();
    assertEquals("arm64", rec.base().arch());
    assertEquals(Map.of("vm.max_map_count", "262144", "net.core.somaxconn", "4096"), rec.sysctl());
    assertEquals(List.of("vim"), rec.packages().stream().map(p -> p.name()).toList(), "lists replace");
    assertTrue(rec.catalogue().isPublic());
    assertEquals(dir.resolve("shared/images/out.qcow2"), rec.output().path(),
        "a path resolves against the file that wrote it");
    assertEquals(2, rec.sources().size());
  }

  @Test
  void extendsCyclesAndNonDefaultsParentsAreErrors() throws IOException {
    write("a.yaml", "apiVersion: assemble.hypervisor.io/v1\nkind: NodeImageDefaults\nextends: b.yaml\n");
    write("b.yaml", "apiVersion: assemble.hypervisor.io/v1\nkind: NodeImageDefaults\nextends: a.yaml\n");
    Path r = write("r.yaml", MINIMAL + "extends: a.yaml\n");
    AssemblerException e = assertThrows(AssemblerException.class, () -> new RecipeReader().read(r));
    assertTrue(render(e.problems()).contains("extends cycle"), render(e.problems()));
    Path r2 = write("r2.yaml", MINIMAL + "extends: r.yaml\n");
    AssemblerException e2 = assertThrows(AssemblerException.class, () -> new RecipeReader().read(r2));
    assertTrue(render(e2.problems()).contains("is not a recipe defaults file (it has no kind: NodeImageDefaults)"),
        render(e2.problems()));
  }

  @Test
  void aDefaultsFileIsNotARecipe() throws IOException {
    String all = render(problems("apiVersion: assemble.hypervisor.io/v1\nkind: NodeImageDefaults\n"));
    assertTrue(all.contains("this is a defaults file"), all);
  }

  @Test
  void environmentOverridesRecipeAndSetOverridesBoth() throws IOException {
    Path p = write("r.yaml", MINIMAL + "platform:\n  ccm: {registry: ghcr.io/from-recipe, tag: v1}\n");
    Recipe env = new RecipeReader(Map.of("CCM_REGISTRY", "registry.site/env", "AUTOSCALER_VERSION", "v9"),
        List.of()).read(p).recipe();
    assertEquals("registry.site/env", env.platform().ccm().registry());
    assertEquals("v1", env.platform().ccm().tag());
    assertEquals("v9", env.platform().autoscaler().tag());
    assertEquals("environment CCM_REGISTRY", env.position("platform.ccm.registry").source());
    Recipe set = new RecipeReader(Map.of("CCM_REGISTRY", "registry.site/env"),
        List.of("platform.ccm.registry=registry.site/set", "kubernetes.version=1.34.3",
            "packages=[htop, vim]")).read(p).recipe();
    assertEquals("registry.site/set", set.platform().ccm().registry());
    assertEquals("1.34.3", set.kubernetes().version());
    assertEquals(2, set.packages().size());
  }

  @Test
  void badSetOverridesAreInputErrors() throws IOException {
    Path p = write("r.yaml", MINIMAL);
    AssemblerException e = assertThrows(AssemblerException.class,
        () -> new RecipeReader(Map.of(), List.of("no-equals-sign", "kubernetes.role=pilot")).read(p));
    String all = render(e.problems());
    assertTrue(all.contains("--set no-equals-sign: malformed override"), all);
    assertTrue(all.contains("--set kubernetes.role: kubernetes.role: \"pilot\" is not a role"), all);
  }

  @Test
  void baseNeedsVerificationWhenDownloaded() throws IOException {
    String all = render(problems(MINIMAL.replace("path: base.qcow2", "url: https://example.org/x.qcow2")));
    assertTrue(all.contains("needs base.sha256 or base.checksums"), all);
  }

  @Test
  void repositoriesAndMirrors() throws IOException {
    Recipe r = new RecipeReader().read(write("r.yaml", MINIMAL + """
        repositories:
          - name: kubernetes
            mirror: http://127.0.0.1:8080/k8s/
          - name: extras
            type: apt
            url: https://extras.example/debian
            suite: bookworm
            key: {url: https://extras.example/key.asc, fingerprint: "0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567"}
        mirrors:
          registry.k8s.io: [http://127.0.0.1:5000]
          docker.io:
            - url: https://mirror.site
              capabilities: [pull]
        """)).recipe();
    assertEquals(2, r.repositories().size());
    assertEquals("0123456789ABCDEF0123456789ABCDEF01234567", r.repositories().get(1).key().fingerprint());
    assertEquals(List.of("pull", "resolve"), r.mirrors().get("registry.k8s.io").get(0).capabilities());
    assertEquals(List.of("pull"), r.mirrors().get("docker.io").get(0).capabilities());

    String all = render(problems(MINIMAL + """
        repositories:
          - name: kubernetes
            url: https://elsewhere/
          - name: extras
            type: apt
            url: https://extras.example/debian
        mirrors:
          registry.k8s.io: [ftp://nope]
        """));
    assertTrue(all.contains("only its mirror and key can be set"), all);
    assertTrue(all.contains("an extra repository needs a pinned key"), all);
    assertTrue(all.contains("an apt repository needs a suite"), all);
    assertTrue(all.contains("is not an http(s) URL"), all);
  }

  @Test
  void sizes() {
    assertEquals(40L << 30, RecipeReader.parseSize("40G"));
    assertEquals(40L << 30, RecipeReader.parseSize("40GiB"));
    assertEquals(20480L << 20, RecipeReader.parseSize("20480M"));
    assertEquals(1024L, RecipeReader.parseSize("1024"));
    assertNull(RecipeReader.parseSize("forty"));
  }

  @Test
  void versionWithLeadingVIsAccepted() throws IOException {
    Recipe r = new RecipeReader().read(write("r.yaml", MINIMAL.replace("1.34.2", "v1.34.2"))).recipe();
    assertNotNull(r);
    assertEquals("1.34.2", r.kubernetes().version());
  }

  @Test
  void suggestionsNeedToBeClose() {
    assertEquals("kubernetes", Suggest.closest("kuberentes", List.of("base", "kubernetes")));
    assertNull(Suggest.closest("zzzzzz", List.of("base", "kubernetes")));
  }
}
