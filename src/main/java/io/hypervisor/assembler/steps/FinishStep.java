package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;

/**
 * The last step inside the image: discard the blocks of deleted files (fstrim), so the output
 * holds only live data; the session then unmounts and shuts the appliance down, checking errors.
 */
public final class FinishStep implements Step {
  /** Nothing to choose. */
  public record Options() {}

  private boolean untrimmed;

  public FinishStep(Options options) {
    // no options yet; the record keeps the steps' common shape
  }

  /**
   * The root file system is rebuilt from its tree and every other partition must stay the base's
   * bytes: trimming (~0.5 s under TCG) would change nothing the output keeps, and could only make
   * a partition differ from the base. If the output turns out to be this disk after all, the
   * caller trims it then.
   */
  public void leaveUntrimmed() {
    untrimmed = true;
  }

  @Override
  public String name() {
    return "finish";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    if (untrimmed) {
      return "not trimmed: the root file system is rebuilt from its tree";
    }
    image.trim();
    return "trimmed";
  }
}
