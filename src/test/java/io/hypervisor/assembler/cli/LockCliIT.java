package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.assemble.Locker;
import io.hypervisor.assembler.assemble.Settings;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.fetch.Fetcher;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.apt.PackagesIndex;
import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.LockFile;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.recipe.RecipeReader;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.StaticServer;
import io.hypervisor.assembler.testworld.TestRecipes;
import io.hypervisor.assembler.testworld.TestRegistry;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code assemble plan RECIPE --lock FILE} on the test world: the base image read through one
 * read-only appliance, the image's own Debian sources (the host's mirror) plus the test world's
 * Kubernetes repository, the test registry as mirror of the image registries. The lock equals the
 * one computed from the base image's unpacked tree, and the base image is not touched.
 */
@Tag("integration")
class LockCliIT {
  @TempDir
  Path tmp;

  @Test
  void locksTheTestWorldWorkerPlan() throws IOException {
    Path base = Fixtures.part("base-image").resolve("debian-12-generic.qcow2");
    Digest before = Digest.sha256(Files.readAllBytes(base));
    Path cache = tmp.resolve("cache");
    try (TestRegistry registry = TestRegistry.builder().build().start();
        StaticServer apt = new StaticServer(Fixtures.part("repos").resolve("apt"), "127.0.0.1")) {
      Path recipe = TestRecipes.worker(tmp.resolve("recipe"), apt.url(), registry.url());
      Path lockFile = tmp.resolve("worker.lock.json");
      // The accelerator this host was probed for once (the probe itself has its own test).
      CliTest.Run run = CliTest.run("--cache", cache.toString(), "--accel", Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "plan", recipe.toString(), "--lock", lockFile.toString());
      assertEquals(0, run.code(), run.err());
      Lock lock = LockFile.read(lockFile);
      assertTrue(run.out().startsWith("locked test-world-worker: " + lock.packages().size() + " packages"), run.out());

      assertEquals(List.of("kubernetes"), lock.packages().stream().filter(p -> p.name().startsWith("kube"))
          .map(Lock.Package::repository).distinct().toList());
      assertTrue(lock.packages().contains(lock.packages().stream().filter(p -> p.name().equals("kubelet")).findFirst()
          .filter(p -> p.version().equals("1.34.2-1.1")).orElseThrow()));
      Lock.Package containerd = lock.packages().stream().filter(p -> p.name().equals("containerd")).findFirst().orElseThrow();
      assertEquals("distro", containerd.repository());
      assertTrue(containerd.version().startsWith("1.6.20"), containerd.version());
      assertTrue(lock.packages().stream().allMatch(p -> p.size() > 0 && p.sha256().length() == 64 && p.url().startsWith("http")));
      assertEquals(8, lock.images().size());
      for (Lock.Image i : lock.images()) {
        assertEquals(Fixtures.published(i.ref()).digest(), i.digest(), i.ref());
      }
      assertEquals(before, Digest.sha256(Files.readAllBytes(base)), "the base image is never written");

      // The same resolution from the unpacked tree of the same image: libguestfs read it right.
      Path root = tmp.resolve("root");
      Files.createDirectories(root);
      Tools.run(List.of("tar", "-xf", Fixtures.part("base-image").resolve("rootfs.tar").toString(), "-C",
          root.toString(), "./etc/apt", "./usr/share/keyrings", "./var/lib/dpkg/status", "./etc/os-release")).ok();
      Plan plan = plan(recipe);
      byte[] status = Files.readAllBytes(root.resolve("var/lib/dpkg/status"));
      ImageFiles files = ImageFiles.directory(root);
      Lock fromTree = locker(cache).lock(plan, new Locker.ImagePackages(files, PackagesIndex.installed(status, "amd64"),
          Digest.sha256(status).toString()), fetcher(cache), null);
      assertEquals(LockFile.json(lock), LockFile.json(fromTree));
      assertEquals(List.of(), LockFile.mismatch(lock, plan));
    }
  }

  @Test
  void anUnresolvablePackageExplainsItself() throws IOException {
    try (StaticServer apt = new StaticServer(Fixtures.part("repos").resolve("apt"), "127.0.0.1")) {
      Path recipe = TestRecipes.worker(tmp.resolve("recipe"), apt.url(), null);
      Files.writeString(recipe, Files.readString(recipe) + "packages: [kubectl-plugin-that-does-not-exist]\n");
      Path root = tmp.resolve("root");
      Files.createDirectories(root);
      Tools.run(List.of("tar", "-xf", Fixtures.part("base-image").resolve("rootfs.tar").toString(), "-C",
          root.toString(), "./etc/apt", "./usr/share/keyrings", "./var/lib/dpkg/status")).ok();
      byte[] status = Files.readAllBytes(root.resolve("var/lib/dpkg/status"));
      ImageFiles files = ImageFiles.directory(root);
      AssemblerException e = assertThrows(AssemblerException.class, () -> locker(tmp.resolve("cache")).lock(plan(recipe),
          new Locker.ImagePackages(files, PackagesIndex.installed(status, "amd64"), "sha256:" + "0".repeat(64)),
          fetcher(tmp.resolve("cache")), null));
      assertTrue(e.getMessage().contains("kubectl-plugin-that-does-not-exist (recipe) cannot be installed: the configured "
          + "repositories have no package kubectl-plugin-that-does-not-exist"), e.getMessage());
      assertEquals(1, e.kind().exitCode());
    }
  }

  static Plan plan(Path recipe) {
    return new Planner(KubernetesBom.load()).plan(new RecipeReader(Map.of(), List.of()).read(recipe).recipe(), List.of());
  }

  static Fetcher fetcher(Path cache) throws IOException {
    return new Fetcher(ContentStore.open(cache), HttpSettings.defaults(), Map.of(), EventSink.NONE);
  }

  static Locker locker(Path cache) {
    return new Locker(Settings.defaults(Map.of()).withCacheDir(cache), EventSink.NONE);
  }
}
