package io.hypervisor.assembler.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The shipped data against the table in ../shared/specs/kubernetes-versions.md. */
class KubernetesBomTest {
  static final KubernetesBom BOM = KubernetesBom.load();

  @ParameterizedTest(name = "{0}.{1}: etcd {2}, coredns {3}, pause {4}")
  @CsvSource({
      "1.30, 0, 3.5.12-0, v1.11.1, 3.9",
      "1.30, 4, 3.5.12-0, v1.11.1, 3.9",
      "1.30, 5, 3.5.15-0, v1.11.3, 3.9",
      "1.31, 0, 3.5.15-0, v1.11.1, 3.10",
      "1.31, 1, 3.5.15-0, v1.11.3, 3.10",
      "1.31, 13, 3.5.15-0, v1.11.3, 3.10",
      "1.31, 14, 3.5.24-0, v1.11.3, 3.10",
      "1.32, 9, 3.5.16-0, v1.11.3, 3.10",
      "1.32, 10, 3.5.24-0, v1.11.3, 3.10",
      "1.33, 5, 3.5.21-0, v1.12.0, 3.10",
      "1.33, 6, 3.5.24-0, v1.12.0, 3.10",
      "1.34, 1, 3.6.4-0, v1.12.1, 3.10.1",
      "1.34, 2, 3.6.5-0, v1.12.1, 3.10.1",
      "1.34, 11, 3.6.5-0, v1.12.1, 3.10.1",
      "1.35, 7, 3.6.6-0, v1.13.1, 3.10.1",
      "1.36, 3, 3.6.8-0, v1.14.2, 3.10.2"})
  void kubeadmImagesPerPatch(String minor, int patch, String etcd, String coredns, String pause) {
    assertEquals(new KubernetesBom.KubeadmImages(etcd, coredns, pause), BOM.kubeadmImages(minor, patch));
  }

  @Test
  void everyMinorIsComplete() {
    assertEquals(List.of("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36"), BOM.minors());
    for (String minor : BOM.minors()) {
      KubernetesBom.Minor m = BOM.minor(minor).orElseThrow();
      assertTrue(m.containerd().lines().containsKey(m.containerd().defaultLine()), minor);
      assertTrue(m.kubeadm().get(0).from() == 0, minor + " starts at patch 0");
      for (String cni : List.of("cilium", "calico", "flannel")) {
        List<String> images = BOM.cniImages(cni, m.cni().get(cni));
        assertTrue(images.size() >= 2, minor + " " + cni);
        images.forEach(i -> io.hypervisor.assembler.model.ImageRef.parse(i));
      }
      assertTrue(m.autoscaler().startsWith("v" + minor + "."), minor);
    }
  }

  @Test
  void containerdFloorsAndDefaultsFromTheSpec() {
    KubernetesBom.ContainerdLines c134 = BOM.minor("1.34").orElseThrow().containerd();
    assertEquals("2.2", c134.defaultLine());
    assertEquals("2.1.3", c134.lines().get("2.1"));
    assertEquals("1.6.39", c134.lines().get("1.6"));
    KubernetesBom.ContainerdLines c136 = BOM.minor("1.36").orElseThrow().containerd();
    assertEquals("2.3", c136.defaultLine());
    assertEquals(List.of("2.3.5"), c136.avoid());
    assertTrue(!c136.lines().containsKey("1.7"));
  }

  @Test
  void cniSideImagesNeedKnownTags() {
    assertEquals("quay.io/cilium/cilium-envoy:v1.36.6-1776000132-2437d2edeaf4d9b56ef279bd0d71127440c067aa",
        BOM.cniImages("cilium", "1.19.3").get(2));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BOM.cniImages("cilium", "1.19.99"));
    assertTrue(e.getMessage().contains("known releases: 1.18.5, 1.19.3, 1.20.1"), e.getMessage());
  }

  @Test
  void versionOrdering() {
    assertTrue(Versions.compare("1.6.39", "1.6.4") > 0);
    assertTrue(Versions.compare("2.2", "2.2.0") == 0);
    assertTrue(Versions.compare("v1.34.10", "1.34.9") > 0);
    assertEquals("1.34", Versions.line("1.34.2"));
  }
}
