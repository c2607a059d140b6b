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

  public FinishStep(Options options) {
    // no options yet; the record keeps the steps' common shape
  }

  @Override
  public String name() {
    return "finish";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    image.trim();
    return "trimmed";
  }
}
