package io.hypervisor.assembler.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.Event;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.recipe.RecipeReader;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.TestContainerd;
import io.hypervisor.assembler.testworld.TestRecipes;
import io.hypervisor.assembler.testworld.TestRegistry;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loose image tarballs as a site has them — {@code skopeo copy … docker-archive:} and
 * {@code oci-archive:}, and {@code ctr export} — matched to the worker plan's references by name,
 * with no network: each found image comes from its file (verified), the offline error names
 * exactly the images found nowhere, a file that matches nothing is reported, and a lock pinning
 * the registry digest refuses the docker-saved copy with the explanation.
 */
@Tag("integration")
class ImageArchivesIT {
  @TempDir
  Path tmp;

  @Test
  void tarballsFromThreeToolsServeThePlanOffline() throws Exception {
    Path dir = tmp.resolve("images");
    Files.createDirectories(dir);
    try (TestRegistry registry = TestRegistry.builder().build().start()) {
      String host = registry.host();
      Tools.run(List.of("skopeo", "copy", "--src-tls-verify=false", "docker://" + host + "/pause:3.10.1",
          "docker-archive:" + dir.resolve("pause.docker.tar") + ":registry.k8s.io/pause:3.10.1")).ok();
      Tools.run(List.of("skopeo", "copy", "--all", "--src-tls-verify=false", "docker://" + host
          + "/coredns/coredns:v1.12.1", "oci-archive:" + dir.resolve("coredns.oci.tar")
          + ":registry.k8s.io/coredns/coredns:v1.12.1")).ok();
      Tools.run(List.of("skopeo", "copy", "--src-tls-verify=false", "docker://" + host + "/library/busybox:1.36",
          "docker-archive:" + dir.resolve("busybox.tar") + ":docker.io/library/busybox:1.36")).ok();
      Path proxy = tmp.resolve("kube-proxy.oci.tar");
      Tools.run(List.of("skopeo", "copy", "--all", "--src-tls-verify=false", "docker://" + host
          + "/kube-proxy:v1.34.2", "oci-archive:" + proxy + ":registry.k8s.io/kube-proxy:v1.34.2")).ok();
      try (TestContainerd ctrd = TestContainerd.start(tmp.resolve("ctrd"), false, null)) {
        ctrd.ctr("-n", "k8s.io", "images", "import", "--no-unpack", "--all-platforms", proxy.toString()).ok();
        ctrd.ctr("-n", "k8s.io", "images", "export", "--all-platforms", dir.resolve("kube-proxy.ctr.tar").toString(),
            "registry.k8s.io/kube-proxy:v1.34.2").ok();
      }
    }
    // No mirrors and nothing listening: only the tarballs can serve.
    Plan recipePlan = new Planner(KubernetesBom.load()).plan(new RecipeReader(Map.of(), List.of())
        .read(TestRecipes.worker(tmp.resolve("recipe"), "http://127.0.0.1:9", null)).recipe(), List.of());
    List<String> files;
    try (var s = Files.list(dir)) {
      files = s.map(Path::toString).sorted().toList();
    }
    Plan plan = recipePlan.withImageArchives(files);
    List<String> log = Collections.synchronizedList(new ArrayList<>());
    EventSink events = e -> {
      if (e instanceof Event.Log l) {
        log.add(l.level() + " " + l.message());
      } else if (e instanceof Event.StepFinished f) {
        log.add(f.step() + ": " + f.detail());
      }
    };
    ContentStore store = ContentStore.open(tmp.resolve("cas"));
    Fetcher offline = new Fetcher(store, HttpSettings.defaults().withOffline(true), Map.of(), events);
    AssemblerException e = assertThrows(AssemblerException.class, () -> offline.images(plan, null));
    assertTrue(e.getMessage().contains("5 images are in neither the content store nor an image archive: "
        + "quay.io/cilium/cilium:v1.19.3, quay.io/cilium/operator-generic:v1.19.3, "), e.getMessage());
    for (String found : List.of("registry.k8s.io/pause:3.10.1", "registry.k8s.io/coredns/coredns:v1.12.1",
        "registry.k8s.io/kube-proxy:v1.34.2")) {
      assertTrue(!e.getMessage().contains(found), found + " was found: " + e.getMessage());
    }
    assertTrue(log.stream().anyMatch(l -> l.startsWith("pull registry.k8s.io/pause:3.10.1: ")
        && l.endsWith("from " + dir.resolve("pause.docker.tar"))), log.toString());
    assertTrue(log.stream().anyMatch(l -> l.startsWith("pull registry.k8s.io/kube-proxy:v1.34.2: ")
        && l.endsWith("from " + dir.resolve("kube-proxy.ctr.tar"))), log.toString());
    assertTrue(log.contains("WARN the image archive " + dir.resolve("busybox.tar") + " holds none of the plan's images"),
        log.toString());

    // Only the three images, pinned: the OCI copies keep the registry digests, docker save cannot.
    Plan three = new Plan(plan.formatVersion(), plan.name(), plan.recipeFiles(), plan.base(), plan.kubernetes(),
        plan.containerd(), plan.repositories(), plan.packages(), plan.images().stream()
            .filter(i -> !i.ref().startsWith("quay.io") && !i.ref().contains("metrics-server")
                && !i.ref().startsWith("ghcr.io")).toList(), plan.mirrors(), plan.files(), plan.units(),
        plan.steps(), plan.diskBytes(), plan.output(), plan.catalogue(), plan.imageArchives(), plan.warnings());
    List<ImageRecord> byTag = offline.images(three, null);
    assertEquals(3, byTag.size());
    // ctr export keeps the registry's bytes; skopeo converts Docker-typed manifests to OCI, docker save rewrites.
    assertEquals(Fixtures.published("registry.k8s.io/kube-proxy:v1.34.2").digest(), byTag.stream()
        .filter(r -> r.ref().toString().startsWith("registry.k8s.io/kube-proxy")).findFirst().orElseThrow()
        .target().digest().toString());
    Plan two = new Plan(three.formatVersion(), three.name(), three.recipeFiles(), three.base(), three.kubernetes(),
        three.containerd(), three.repositories(), three.packages(), three.images().stream()
            .filter(i -> !i.ref().contains("coredns")).toList(), three.mirrors(), three.files(), three.units(),
        three.steps(), three.diskBytes(), three.output(), three.catalogue(), three.imageArchives(), three.warnings());
    Lock pinned = new Lock(Lock.FORMAT_VERSION, two.name(), "", "", "apt", "amd64", null, Map.of(), List.of(),
        two.images().stream().map(i -> new Lock.Image(i.ref(), Fixtures.published(i.ref()).digest())).toList());
    IOException d = assertThrows(IOException.class, () -> new Fetcher(ContentStore.open(tmp.resolve("cas2")),
        HttpSettings.defaults().withOffline(true), Map.of(), EventSink.NONE).images(two, pinned));
    assertTrue(d.getMessage().contains("docker save rewrites manifests"), d.getMessage());
  }
}
