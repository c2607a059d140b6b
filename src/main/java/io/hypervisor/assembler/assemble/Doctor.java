package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.HostProbe;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.Check;
import java.util.List;

/** Runs the host probe for {@code assemble doctor} and for builds (which need an accelerator). */
public final class Doctor {
  /** What the probe found and whether a build can run here. */
  public record Result(List<Check> checks, Accelerator accelerator, boolean canBuild) {}

  private final EventSink events;

  public Doctor(EventSink events) {
    this.events = events;
  }

  public Result run(Settings s, boolean reprobe) {
    HostProbe.Report r = new HostProbe(events).probe(new HostProbe.Options(s.accelerator(),
        s.workDir(), s.cacheDir(), s.launchTimeout(), reprobe));
    return new Result(r.checks(), r.accelerator(), r.canBuild());
  }
}
