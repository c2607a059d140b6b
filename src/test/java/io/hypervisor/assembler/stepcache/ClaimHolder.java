package io.hypervisor.assembler.stepcache;

import java.nio.file.Path;

/** A process that claims a name of a step cache, says "held", and keeps it until killed or its input ends. */
public final class ClaimHolder {
  private ClaimHolder() {}

  public static void main(String[] args) throws Exception {
    try (StepCache.Claim c = StepCache.open(Path.of(args[0])).claim(args[1], () -> System.out.println("waiting"))) {
      System.out.println("held");
      System.out.flush();
      System.in.read();
    }
  }
}
