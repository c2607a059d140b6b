package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.tree.RootTree;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The last look at the root tree before the image is closed: every time the build left after the
 * epoch set back to it (in place, so an image that is not rebuilt still matches its manifest),
 * then the root file system copied out as one tar stream into a canonical {@link RootTree} (file
 * contents spooled to the work directory): the tree manifest and, for a byte-identical disk, the
 * input of the file system's rebuild.
 */
public final class TreeStep implements Step {
  /** The build's epoch (seconds) and the directory for the spooled contents. */
  public record Options(long epoch, Path work) {}

  private final Options options;
  private RootTree tree;

  public TreeStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "tree";
  }

  /** The shell that sets every later time back to the epoch, on the root file system only. */
  public String clampScript() {
    long e = options.epoch();
    return "find / -xdev -newermt @" + e + " -exec touch -h -d @" + e + " {} +\n";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    image.run("setting file times after the epoch back to it", clampScript());
    Path spool = options.work().resolve("root-tree.spool");
    image.tarOutRoot(in -> tree = RootTree.read(in, spool, options.epoch()));
    return tree.entries().size() + " paths, " + (tree.contentBytes() >> 20) + " MiB, tree digest "
        + RootTree.digest(tree.manifest()).encoded().substring(0, 12);
  }

  /** The tree read by {@link #apply} (its owner closes it), or null before. */
  public RootTree tree() {
    return tree;
  }
}
