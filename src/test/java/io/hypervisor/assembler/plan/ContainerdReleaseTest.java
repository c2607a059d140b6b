package io.hypervisor.assembler.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.ContainerdLine;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The containerd a lock installs decides the config version, the metadata schema and the pinned label. */
class ContainerdReleaseTest {
  @Test
  void packageVersionsOfEveryFamilyGiveTheirLine() {
    assertEquals(new ContainerdLine(2, 1), ContainerdLine.parse("2.1.9-1~debian.12~bookworm"));
    assertEquals(new ContainerdLine(1, 6), ContainerdLine.parse("1.6.20~ds1-1+deb12u3"));
    assertEquals(new ContainerdLine(1, 7), ContainerdLine.parse("1.7.24~ds1-6+deb13u1"));
    assertEquals(new ContainerdLine(2, 2), ContainerdLine.parse("1:2.2.1-1.el9"));
    assertEquals(new ContainerdLine(2, 1), ContainerdLine.parse("v2.1.9"));
    assertEquals("2.1.9", ContainerdLine.upstream("2.1.9-1~debian.12~bookworm").orElseThrow());
    assertEquals("1.6.20", ContainerdLine.upstream("1.6.20~ds1-1+deb12u3").orElseThrow());
    assertTrue(ContainerdLine.ofVersion("latest").isEmpty());
    assertThrows(IllegalArgumentException.class, () -> ContainerdLine.parse("two"));
  }

  @Test
  void eachLineHasItsFormats() {
    ContainerdLine l16 = ContainerdLine.parse("1.6");
    ContainerdLine l17 = ContainerdLine.parse("1.7");
    ContainerdLine l21 = ContainerdLine.parse("2.1");
    assertEquals(List.of(2, 3, false), List.of(l16.configVersion(), l16.metadataVersion(), l16.pinsSandbox()));
    assertEquals(List.of(2, 3, true), List.of(l17.configVersion(), l17.metadataVersion(), l17.pinsSandbox()));
    assertEquals(List.of(3, 4, true), List.of(l21.configVersion(), l21.metadataVersion(), l21.pinsSandbox()));
  }

  private static Lock lock(String name, String version) {
    return new Lock(Lock.FORMAT_VERSION, "x", "sha256:" + "0".repeat(64), "sha256:" + "0".repeat(64), "apt", "amd64",
        null, Map.of(), List.of(new Lock.Package("kubelet", "1.34.2-1.1", "amd64", "kubernetes", "http://k/kubelet.deb",
            "1".repeat(64), 1), new Lock.Package(name, version, "amd64", "docker", "http://d/c.deb", "2".repeat(64), 1)),
        List.of());
  }

  @Test
  void theLockedPackageNotTheRecipeDecidesTheConfigAndSchema() {
    // The recipe wishes for the bill of materials' default line (2.2); the repository had only 1.7.
    Plan planned = PlannerTest.plan(PlannerTest.recipe("debian-12", "1.34.2", "worker"));
    assertEquals("2.2", planned.containerd().line());
    ContainerdRelease r = ContainerdRelease.of(lock("containerd.io", "1.7.28-1~debian.12~bookworm")).orElseThrow();
    assertEquals("1.7.28", r.upstream());
    Plan installed = r.apply(planned);
    assertEquals("1.7", installed.containerd().line());
    assertEquals("1.7.28", installed.containerd().release());
    assertEquals(2, installed.containerd().configVersion());
    assertEquals(3, installed.containerd().metadataVersion());
    String config = installed.files().stream().filter(f -> f.path().equals("/etc/containerd/config.toml"))
        .findFirst().orElseThrow().content();
    assertTrue(config.contains("version = 2") && config.contains("sandbox_image = \"registry.k8s.io/pause:3.10.1\""),
        config);
    assertFalse(config.contains("pinned_images"), config);
    assertEquals(planned.files().size(), installed.files().size());

    // The line the recipe planned, installed as planned: the plan keeps its config.
    Plan same = ContainerdRelease.of(lock("containerd.io", "2.2.1-1~debian.12~bookworm")).orElseThrow().apply(planned);
    assertEquals(planned.files(), same.files());
    assertEquals("2.2.1", same.containerd().release());
    // The distribution's package counts the same way.
    assertEquals("containerd", ContainerdRelease.of(lock("containerd", "1.6.20~ds1-1+deb12u3")).orElseThrow()
        .packageName());
    assertTrue(ContainerdRelease.of(lock("runc", "1.1.5")).isEmpty());
    ContainerdRelease twice = ContainerdRelease.of(lock("containerd.io", "2.1.9-1")).orElseThrow();
    Plan once = twice.apply(planned);
    assertSame(once, twice.apply(once), "applying the same release again changes nothing");
  }
}
