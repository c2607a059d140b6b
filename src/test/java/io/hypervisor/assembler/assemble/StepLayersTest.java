package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.stepcache.StepCache;
import io.hypervisor.assembler.stepcache.StepKey;
import io.hypervisor.assembler.steps.ImageFile;
import io.hypervisor.assembler.steps.PackagesStep;
import io.hypervisor.assembler.steps.RepositoriesStep;
import io.hypervisor.assembler.steps.Step;
import io.hypervisor.assembler.steps.SwapStep;
import io.hypervisor.assembler.testworld.Tools;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The step cache with real qemu-img and qemu-io: the key of the cacheable steps, a work disk
 * snapshot made into a layer that names its base relative to itself (the cache directory can
 * move), a work overlay on the layer reads the installed bytes, and the base facts' round trip.
 */
class StepLayersTest {
  @TempDir
  Path tmp;

  private static final Instant EPOCH = Instant.ofEpochSecond(1_700_000_000);

  private static List<Step> steps(String pkgSha, String sourcesLine) {
    RepositoriesStep repos = new RepositoriesStep(new RepositoriesStep.Options(List.of(new ImageFile(
        "/etc/apt/sources.list.d/kubernetes.list", 0644, sourcesLine.getBytes()))));
    PackagesStep packages = new PackagesStep(new PackagesStep.Options("apt", List.of(new PackagesStep.PackageFile(
        "kubelet", "1.34.2-1.1", Digest.ofSha256Hex(pkgSha), 100)), List.of("kubelet")), null);
    return List.of(repos, packages, new SwapStep(new SwapStep.Options(true)));
  }

  private static void qemu(Path dir, String... cmd) {
    Tools.run(List.of(cmd), dir, 120).ok();
  }

  /** The base as a blob of a content store under {@code cache}. */
  private Path baseBlob(Path cache) throws Exception {
    Path raw = tmp.resolve("base.qcow2");
    qemu(tmp, "qemu-img", "create", "-q", "-f", "qcow2", raw.toString(), "64M");
    qemu(tmp, "qemu-io", "-c", "write -P 0x11 0 1M", raw.toString());
    Digest d;
    try (InputStream in = Files.newInputStream(raw)) {
      d = Digest.of("sha256", in);
    }
    Path blob = Files.createDirectories(cache.resolve("blobs/sha256")).resolve(d.encoded());
    Files.move(raw, blob);
    return blob;
  }

  /** An image session whose only ability is the quiesce (the snapshot's copy needs nothing else). */
  private static ImageSession quiescing(List<String> calls) {
    return (ImageSession) Proxy.newProxyInstance(ImageSession.class.getClassLoader(), new Class<?>[] {ImageSession.class},
        (proxy, method, args) -> {
          if (method.getName().equals("quiesced")) {
            calls.add("quiesced");
            ((ImageSession.Quiesced) args[0]).run();
            return null;
          }
          throw new UnsupportedOperationException(method.getName());
        });
  }

  @Test
  void theKeyCoversTheCacheableStepsOnlyAndEachOfTheirInputs() throws Exception {
    Path cache = tmp.resolve("cache");
    Path base = baseBlob(cache);
    StepLayers layers = StepLayers.open(cache, base, null, "qcow2", EventSink.NONE);
    List<Step> steps = steps("ab".repeat(32), "deb http://mirror/ /");
    assertEquals(List.of("repositories", "packages"), StepLayers.names(StepLayers.cacheable(steps)));
    StepKey key = layers.key(steps, 8L << 30, EPOCH);
    assertTrue(key.text().contains("base sha256:" + base.getFileName() + " qcow2 ../../../blobs/sha256/"
        + base.getFileName()), key.text());
    assertEquals(key, layers.key(steps("ab".repeat(32), "deb http://mirror/ /"), 8L << 30, EPOCH), "same inputs");
    assertNotEquals(key, layers.key(steps("cd".repeat(32), "deb http://mirror/ /"), 8L << 30, EPOCH), "a package");
    assertNotEquals(key, layers.key(steps("ab".repeat(32), "deb http://other/ /"), 8L << 30, EPOCH), "a source");
    assertNotEquals(key, layers.key(steps, 9L << 30, EPOCH), "the disk size");
    assertNotEquals(key, layers.key(steps, 8L << 30, EPOCH.plusSeconds(1)), "the epoch");
    assertNull(layers.key(steps.subList(0, 1), 8L << 30, EPOCH), "nothing installs packages: nothing to cache");
    assertTrue(StepLayers.cacheable(List.of(steps.get(2), steps.get(0), steps.get(1))).isEmpty(),
        "only a leading run of steps can start from a layer");
    assertTrue(key.text().startsWith("assemble " + CatalogueManifest.VERSION
        + " step-cache " + StepCache.FORMAT + "\n"), key.text());
    // the rest of the packages step's inputs: the family, the held names, the install script
    Step dnf = new PackagesStep(new PackagesStep.Options("dnf", List.of(new PackagesStep.PackageFile("kubelet",
        "1.34.2-1.1", Digest.ofSha256Hex("ab".repeat(32)), 100)), List.of("kubelet")), null);
    Step unheld = new PackagesStep(new PackagesStep.Options("apt", List.of(new PackagesStep.PackageFile("kubelet",
        "1.34.2-1.1", Digest.ofSha256Hex("ab".repeat(32)), 100)), List.of()), null);
    for (Step other : List.of(dnf, unheld)) {
      assertNotEquals(key, layers.key(List.of(steps.get(0), other), 8L << 30, EPOCH), other.inputs().toString());
    }
    // another base (another digest) never matches
    Path otherBase = tmp.resolve("other.qcow2");
    qemu(tmp, "qemu-img", "create", "-q", "-f", "qcow2", otherBase.toString(), "64M");
    assertNotEquals(key, StepLayers.open(cache, otherBase, null, "qcow2", EventSink.NONE).key(steps, 8L << 30, EPOCH),
        "the base");
  }

  /**
   * Every role of one patch installs onto the same disk, whose layer they share: the reference
   * control plane (20 GiB) and worker (40 GiB) on a 3 GiB base both on 3 + 4 GiB; a plan's
   * smaller disk is its own, and without a packages step there is nothing to share.
   */
  @Test
  void theRolesOfOnePatchInstallOntoOneLayerDisk() {
    io.hypervisor.assembler.plan.Planner planner = new io.hypervisor.assembler.plan.Planner(
        io.hypervisor.assembler.plan.KubernetesBom.load());
    java.util.function.Function<String, io.hypervisor.assembler.plan.Plan> plan = name -> planner.plan(
        new io.hypervisor.assembler.recipe.RecipeReader(Map.of(), List.of()).read(Path.of("recipes", name)).recipe(),
        List.of());
    io.hypervisor.assembler.plan.Plan cp = plan.apply("recipe-1.34-cp.yaml");
    io.hypervisor.assembler.plan.Plan worker = plan.apply("recipe-1.34-worker.yaml");
    assertEquals(20L << 30, cp.diskBytes());
    assertEquals(40L << 30, worker.diskBytes());
    long base = 3L << 30;
    assertEquals(7L << 30, StepLayers.layerDisk(cp, base));
    assertEquals(StepLayers.layerDisk(cp, base), StepLayers.layerDisk(worker, base));
    assertEquals(8L << 30, StepLayers.layerDisk(cp, base + 1), "whole GiB above the base");
    assertEquals(6L << 30, StepLayers.layerDisk(with(cp, cp.steps(), 6L << 30), base), "a smaller plan's own disk");
    assertEquals(20L << 30, StepLayers.layerDisk(with(cp, List.of("kernel", "tree", "finish"), cp.diskBytes()), base),
        "nothing installed: no layer to share");
  }

  private static io.hypervisor.assembler.plan.Plan with(io.hypervisor.assembler.plan.Plan p, List<String> steps,
      long bytes) {
    return new io.hypervisor.assembler.plan.Plan(p.formatVersion(), p.name(), p.recipeFiles(), p.base(),
        p.kubernetes(), p.containerd(), p.repositories(), p.packages(), p.images(), p.mirrors(), p.files(), p.units(),
        steps, bytes, p.output(), p.catalogue(), p.imageArchives(), p.warnings());
  }

  @Test
  void aSnapshotBecomesALayerThatMovesWithTheCache() throws Exception {
    Path cache = tmp.resolve("cache");
    Path base = baseBlob(cache);
    Path disk = tmp.resolve("disk.qcow2");
    qemu(tmp, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base.toString(), disk.toString(), "128M");
    qemu(tmp, "qemu-io", "-c", "write -P 0x22 32M 2M", disk.toString()); // what "the packages" wrote
    StepLayers layers = StepLayers.open(cache, base, null, "qcow2", EventSink.NONE);
    List<Step> steps = steps("ab".repeat(32), "deb http://mirror/ /");
    StepKey key = layers.key(steps, 128L << 20, EPOCH);
    List<String> calls = new java.util.ArrayList<>();
    layers.snapshot(quiescing(calls), disk, key, List.of("ab".repeat(32)), StepLayers.cacheable(steps));
    assertEquals(List.of("quiesced"), calls, "the copy is made with the file systems unmounted and flushed");
    StepCache.Layer layer = layers.find(key).orElseThrow();
    assertEquals(List.of("repositories", "packages"), layer.entry().steps());
    String info = Tools.run(List.of("qemu-img", "info", layer.file().toString())).ok().out();
    assertTrue(info.contains("backing file: ../../../blobs/sha256/" + base.getFileName()), info);

    // The cache directory moves (another mount, a copied cache): the layer still finds its base.
    Path moved = tmp.resolve("moved-cache");
    Files.move(cache, moved);
    StepLayers again = StepLayers.open(moved, moved.resolve("blobs/sha256").resolve(base.getFileName()), null, "qcow2",
        EventSink.NONE);
    StepCache.Layer found = again.find(key).orElseThrow();
    Path work = tmp.resolve("work.qcow2");
    QemuImg.overlay(found.file(), "qcow2", work, 128L << 20);
    qemu(tmp, "qemu-io", "-r", "-c", "read -P 0x22 32M 2M", "-c", "read -P 0x11 0 1M", work.toString());
    String chain = Tools.run(List.of("qemu-img", "check", work.toString())).ok().out();
    assertTrue(chain.contains("No errors"), chain);
  }

  @Test
  void baseFactsSurviveTheirRecordAndAnOtherVersionIsIgnored() throws Exception {
    ImageSession.OsInfo os = new ImageSession.OsInfo("linux", "debian", 12, 7, "x86_64", "deb", "/dev/sda1",
        Map.of("/", "/dev/sda1", "/boot/efi", "/dev/sda15"));
    BaseFacts f = new BaseFacts(BaseFacts.VERSION, os, 1_700_000_000L, Map.of("/dev/sda15", "ff".repeat(32)),
        java.util.Base64.getEncoder().encodeToString("Package: bash\nStatus: install ok installed\n".getBytes()),
        Map.of("/etc/apt/sources.list", java.util.Base64.getEncoder().encodeToString("deb x y\n".getBytes())),
        Map.of("/etc/apt", List.of("sources.list")), 1_700_000_123L);
    BaseFacts back = BaseFacts.parse(f.json());
    assertEquals(f, back);
    assertEquals("deb x y\n", new String(back.configuration().read("/etc/apt/sources.list")));
    assertNull(back.configuration().read("/etc/shadow"), "what the walk did not copy does not exist");
    BaseFacts other = new BaseFacts(BaseFacts.VERSION + 1, os, 1, Map.of(), "", Map.of(), Map.of(), null);
    assertNull(BaseFacts.parse(other.json()), "facts of another version are read from the base again");
    assertNull(BaseFacts.parse("{broken".getBytes()));
  }
}
