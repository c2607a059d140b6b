package io.hypervisor.assembler.guestfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.Check;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real probe on this host: launches appliances in child JVMs. On hosts where KVM guests hang
 * (this project's machines), the KVM launch must be killed after the timeout and TCG chosen; on
 * hosts where KVM works, KVM is chosen. Either way the answer is remembered and reused.
 */
@Tag("integration")
class HostProbeIT {
  @TempDir
  Path cache;

  @Test
  void findsAWorkingAcceleratorRemembersItAndLeavesNoQemuBehind() {
    HostProbe probe = new HostProbe(EventSink.NONE);
    HostProbe.Options o = new HostProbe.Options(Accelerator.AUTO, cache.resolve("work"), cache,
        Duration.ofSeconds(20), false);
    long qemuBefore = qemuProcesses();
    HostProbe.Report first = probe.probe(o);
    assertNotNull(first.accelerator(), first.checks().toString());
    assertTrue(first.canBuild(), first.checks().toString());
    Check kvm = first.checks().stream().filter(c -> c.name().equals("appliance (kvm)")).findFirst().orElseThrow();
    if (first.accelerator() == Accelerator.TCG) {
      assertEquals(Check.Status.WARN, kvm.status(), "a KVM failure with working TCG is only a warning");
    }
    assertEquals(qemuBefore, qemuProcesses(), "a hung launch is killed together with its qemu");

    Map<String, String> memo = HostProbe.remembered(cache);
    assertEquals(first.accelerator().toString(), memo.get("accelerator"));
    long t0 = System.nanoTime();
    HostProbe.Report second = probe.probe(o);
    assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "the remembered answer needs no launch");
    assertEquals(first.accelerator(), second.accelerator());
    assertTrue(second.checks().stream().anyMatch(c -> c.detail().contains("remembered")));
  }

  /**
   * The probe's own qemu processes: its launches are the only ones on a scratch drive (the suite's
   * builds and boots run beside this test with their own qemu, which come and go meanwhile).
   */
  static long qemuProcesses() {
    return ProcessHandle.allProcesses().filter(p -> p.info().command().orElse("").contains("qemu-system")
        && String.join(" ", p.info().arguments().orElse(new String[0])).contains("scratch")).count();
  }

  /** Whether the running kernel's build configuration has CONFIG_PVH (supermin copies the newest /boot kernel). */
  private static boolean pvhConfigured() {
    try (var s = java.nio.file.Files.list(Path.of("/boot"))) {
      return s.filter(p -> p.getFileName().toString().startsWith("config-")).anyMatch(p -> {
        try {
          return java.nio.file.Files.readAllLines(p).contains("CONFIG_PVH=y");
        } catch (java.io.IOException e) {
          return false;
        }
      });
    } catch (java.io.IOException e) {
      return false;
    }
  }

  @Test
  void explicitTcgSkipsKvmAndIsNotRemembered() {
    HostProbe.Report r = new HostProbe(EventSink.NONE).probe(new HostProbe.Options(Accelerator.TCG,
        cache.resolve("work"), cache, Duration.ofSeconds(20), false));
    assertEquals(Accelerator.TCG, r.accelerator(), r.checks().toString());
    assertTrue(r.checks().stream().noneMatch(c -> c.name().equals("appliance (kvm)")));
    assertTrue(HostProbe.remembered(cache).isEmpty());
    // TCG launches boot the appliance's kernel unpacked where the host's kernel allows (x86-64, CONFIG_PVH)
    Check kernel = r.checks().stream().filter(c -> c.name().equals("appliance kernel")).findFirst().orElseThrow();
    boolean pvh = System.getProperty("os.arch").equals("amd64") && pvhConfigured();
    assertEquals(pvh ? Check.Status.OK : Check.Status.WARN, kernel.status(), kernel.detail());
  }
}
