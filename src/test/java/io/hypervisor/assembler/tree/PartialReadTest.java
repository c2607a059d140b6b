package io.hypervisor.assembler.tree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What a partial read reads and what it leaves out, as tar exclusion patterns. */
class PartialReadTest {
  private static final List<String> LISTING = List.of("etc", "etc/hostname", "etc/sysctl.d", "etc/sysctl.d/99-k8s.conf",
      "etc/a*b", "usr", "usr/bin", "usr/bin/ls", "var", "var/lib", "var/lib/containerd", "var/lib/containerd/meta.db",
      "var/lib/dpkg", "var/lib/dpkg/status");
  private static final Set<String> CACHED = Set.of("etc", "etc/hostname", "etc/a*b", "usr", "usr/bin", "usr/bin/ls",
      "var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status", "etc/sysctl.d");

  @Test
  void readsChangedStaleAndNewPathsAndExcludesTheRestAsWholeDirectoriesWherePossible() throws IOException {
    PartialRead.Selection s = PartialRead.select(LISTING, Set.of("etc/sysctl.d", "etc/sysctl.d/99-k8s.conf"), CACHED,
        Set.of("var/lib/dpkg/status"));
    assertEquals(Set.of("etc/sysctl.d", "etc/sysctl.d/99-k8s.conf", "var/lib/dpkg/status", "var/lib/containerd",
        "var/lib/containerd/meta.db"), s.read());
    // usr has nothing to read: left out whole; etc and var/lib are walked, their unchanged entries left out one by one
    assertEquals(List.of("./etc/hostname", "./etc/a\\*b", "./usr"), s.excludes());
  }

  @Test
  void namesATarExclusionCannotSayAreRefused() {
    assertThrows(IOException.class, () -> PartialRead.select(List.of("etc/a\nb"), Set.of(), Set.of(), Set.of()));
    assertEquals("a\\[1]\\\\\\?", PartialRead.escape("a[1]\\?"));
  }
}
