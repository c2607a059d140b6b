package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;

/** One named change to the image; the build is an ordered list of them. */
public interface Step {
  /** The step's name, as the plan lists it ("packages", "kernel", …). */
  String name();

  /** Applies the change; returns a one-line summary for the step's finish event. */
  String apply(ImageSession image, EventSink events) throws IOException;

  /**
   * What the step's result depends on besides the disk it starts from, one line per input (the
   * step cache's key); null when the step cannot be cached (its result depends on more).
   */
  default java.util.List<String> inputs() {
    return null;
  }
}
