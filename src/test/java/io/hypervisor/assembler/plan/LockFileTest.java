package io.hypervisor.assembler.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.model.AssemblerException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Lock files: round trip, validation, and what counts as "the same plan". */
class LockFileTest {
  @TempDir
  Path tmp;

  static final String RECIPE = PlannerTest.recipe("debian-12", "1.34.2", "worker");

  static Lock lock(Plan p) {
    return new Lock(Lock.FORMAT_VERSION, p.name(), LockFile.inputs(p), "sha256:" + "1".repeat(64), "apt", "amd64",
        null, java.util.Map.of("kubernetes", "sha256:" + "2".repeat(64)), List.of(new Lock.Package("kubelet", "1.34.2-1.1", "amd64", "kubernetes",
            "https://pkgs.k8s.io/core:/stable:/v1.34/deb/amd64/kubelet_1.34.2-1.1_amd64.deb", "a".repeat(64), 123)),
        List.of(new Lock.Image("registry.k8s.io/pause:3.10.1", "sha256:" + "b".repeat(64))));
  }

  @Test
  void roundTripsAndAnswersItsPlanOnly() throws IOException {
    Plan p = PlannerTest.plan(RECIPE);
    Path f = tmp.resolve("x.lock.json");
    LockFile.write(lock(p), f);
    Lock back = LockFile.read(f);
    assertEquals(lock(p), back);
    assertEquals(LockFile.json(back), Files.readString(f), "stable JSON");
    assertEquals(List.of(), LockFile.mismatch(back, p));
    assertEquals(List.of(), LockFile.mismatch(back, PlannerTest.plan(RECIPE + "mirrors: {registry.k8s.io: "
        + "[https://mirror.example]}\n")), "a registry mirror says where, not what");
    assertEquals(1, LockFile.mismatch(back, PlannerTest.plan(RECIPE, "kubernetes.version=1.34.1")).size());
    assertNotEquals(LockFile.inputs(p), LockFile.inputs(PlannerTest.plan(RECIPE + "packages: [htop]\n")));
  }

  @Test
  void aBrokenLockIsRefusedWithEveryProblem() throws IOException {
    Path f = tmp.resolve("bad.lock.json");
    Files.writeString(f, LockFile.json(lock(PlannerTest.plan(RECIPE)))
        .replace("a".repeat(64), "A".repeat(63)).replace("\"size\" : 123", "\"size\" : 0")
        .replace("https://pkgs", "ftp://pkgs"));
    AssemblerException e = assertThrows(AssemblerException.class, () -> LockFile.read(f));
    assertTrue(e.getMessage().contains("url must be http(s)") && e.getMessage().contains("sha256 must be 64")
        && e.getMessage().contains("size must be positive"), e.getMessage());
    Files.writeString(f, "{\"formatVersion\": 1, \"surprise\": true}");
    e = assertThrows(AssemblerException.class, () -> LockFile.read(f));
    assertTrue(e.getMessage().contains("surprise"), e.getMessage());
  }
}
