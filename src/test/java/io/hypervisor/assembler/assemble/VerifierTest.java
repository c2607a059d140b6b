package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The verify's pure rules; the whole checklist runs on real images in the build tests. */
class VerifierTest {
  @Test
  void zramSwapCountsAsSwapUnlessTheGeneratorIsTurnedOff() {
    assertNull(Verifier.zramProblem(false, null, List.of()), "no zram-generator: nothing to turn off");
    assertEquals("zram-generator would make a zram swap device at boot (no /etc/systemd/zram-generator.conf)",
        Verifier.zramProblem(true, null, List.of()));
    assertNull(Verifier.zramProblem(true, "", List.of()), "the swap step's empty file: no devices");
    assertNull(Verifier.zramProblem(true, "# no zram on Kubernetes nodes\n", List.of()));
    assertEquals("/etc/systemd/zram-generator.conf defines a zram device",
        Verifier.zramProblem(true, "[zram0]\nzram-size = min(ram, 8192)\n", List.of()));
    assertEquals("zram-generator drop-ins define devices: /etc/systemd/zram-generator.conf.d/big.conf",
        Verifier.zramProblem(true, "", List.of("/etc/systemd/zram-generator.conf.d/big.conf")));
  }
}
