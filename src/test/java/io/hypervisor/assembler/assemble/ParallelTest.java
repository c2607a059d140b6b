package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.hypervisor.assembler.model.Accelerator;
import org.junit.jupiter.api.Test;

/** How several builds share the host: one TCG guest per core with one CPU each; KVM splits the cores. */
class ParallelTest {
  @Test
  void tcgRunsOneGuestPerCoreWithOneCpu() {
    assertEquals(new Assembler.Parallel(2, 1), Assembler.parallel(Accelerator.TCG, 2, 3, 2, false));
    assertEquals(new Assembler.Parallel(2, 1), Assembler.parallel(Accelerator.TCG, 2, 2, 2, false));
    assertEquals(new Assembler.Parallel(1, 1), Assembler.parallel(Accelerator.TCG, 2, 1, 2, false), "one build");
    assertEquals(new Assembler.Parallel(1, 1), Assembler.parallel(Accelerator.TCG, 1, 3, 2, false), "one core");
    assertEquals(new Assembler.Parallel(2, 2), Assembler.parallel(Accelerator.TCG, 2, 3, 2, true),
        "--guest-cpus given: as asked, still a guest per core");
  }

  @Test
  void kvmSplitsTheCoresByTheCpusEachGuestHas() {
    assertEquals(new Assembler.Parallel(2, 2), Assembler.parallel(Accelerator.KVM, 4, 2, 2, false));
    assertEquals(new Assembler.Parallel(4, 2), Assembler.parallel(Accelerator.KVM, 8, 5, 2, false));
    assertEquals(new Assembler.Parallel(1, 2), Assembler.parallel(Accelerator.KVM, 2, 3, 2, false));
    assertEquals(new Assembler.Parallel(1, 4), Assembler.parallel(Accelerator.KVM, 2, 3, 4, true), "never none");
  }
}
