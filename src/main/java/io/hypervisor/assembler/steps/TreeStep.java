package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.tree.PartialRead;
import io.hypervisor.assembler.tree.RootTree;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The last look at the root tree before the image is closed: every time the build left after the
 * epoch set back to it (in place, so an image that is not rebuilt still matches its manifest),
 * then the root file system copied out as one tar stream into a canonical {@link RootTree} (file
 * contents spooled to the work directory): the tree manifest and, for a byte-identical disk, the
 * input of the file system's rebuild. When the disk started from a cached layer whose tree was
 * read before, only the paths changed since (by their ctime) are copied out and the rest comes
 * from that tree; any doubt about the merge reads everything.
 */
public final class TreeStep implements Step {
  /** The build's epoch (seconds) and the directory for the spooled contents. */
  public record Options(long epoch, Path work) {}

  /**
   * An earlier read of the files the disk started from: the tree, and the paths it holds that
   * changed after the disk's starting point (so they must be read again).
   */
  public record Earlier(RootTree tree, Set<String> stale) {}

  private final Options options;
  private RootTree tree;
  private Long since;
  private Earlier earlier;
  private Set<String> changed;
  private int read = -1;
  private boolean hostMay;
  private boolean unclamped;
  private boolean deferred;

  public TreeStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "tree";
  }

  /**
   * The disk's starting point, in the guest's clock (seconds): paths with a newer ctime are the
   * ones this build changed ({@link #changed()}); with {@code earlier} (may be null) only those
   * are read out.
   */
  public void since(long guestSeconds, Earlier earlier) {
    this.since = guestSeconds;
    this.earlier = earlier;
  }

  /**
   * One find over the root file system (all its mounts: a btrfs root's subvolumes are file
   * systems of their own to -xdev). With a clock it first prints every path whose ctime is after
   * it: find tests each path once, before the clamp's touch (batched later) changes that ctime.
   * Then it sets every time after the epoch back to it. One command: each costs ~0.9 s under TCG.
   */
  public List<String> clampCommand(List<String> rootMounts, Long since) {
    List<String> cmd = new ArrayList<>(List.of("find"));
    cmd.addAll(rootMounts);
    cmd.add("-xdev");
    if (since != null) {
      cmd.addAll(List.of("(", "-newerct", "@" + since, "-printf", "%p\\n", ")", ","));
    }
    String e = "@" + options.epoch();
    cmd.addAll(List.of("(", "-newermt", e, "-exec", "touch", "-h", "-d", e, "{}", "+", ")"));
    return cmd;
  }

  /** Where the guest's clock is read: a file written and removed again right away. */
  static final String CLOCK_PROBE = "/var/tmp/.assemble-clock";

  /** The caller can read the whole root from the closed disk on the host: a full read is left to it. */
  public void readOnHost() {
    this.hostMay = true;
  }

  /**
   * The same, and the caller rebuilds the root file system from that tree (whose read sets the
   * times back): the clamp in the image (~1.4 s under TCG) would change nothing the output keeps.
   * If the output turns out to be this disk after all, the caller runs {@link #clamp} on it.
   */
  public void rebuiltFromTree() {
    this.hostMay = true;
    this.unclamped = true;
  }

  /** Whether {@link #apply} left the image's times as the build made them (see {@link #rebuiltFromTree}). */
  public boolean unclamped() {
    return unclamped;
  }

  /** Every time after the epoch set back to it, on an image whose tree step left them. */
  public void clamp(ImageSession image) throws IOException {
    try {
      image.command(clampCommand(image.os().rootMounts(), null));
    } catch (IOException e) {
      throw new IOException("setting file times after the epoch back to it: " + e.getMessage(), e);
    }
    unclamped = false;
  }

  /** Whether the caller reads the whole root on the host (then no layer's tree is needed). */
  public boolean readsOnHost() {
    return hostMay;
  }

  /** Whether {@link #apply} left the read to the caller, who gives the tree to {@link #read}. */
  public boolean deferred() {
    return deferred && tree == null;
  }

  /** The tree the caller read of the closed disk, for a deferred read. */
  public void read(RootTree t) {
    if (!deferred || tree != null) {
      throw new IllegalStateException("the tree step did not leave its read to the caller");
    }
    this.tree = t;
  }

  /** The build's epoch (seconds): every time after it is clamped to it. */
  public long epoch() {
    return options.epoch();
  }

  /**
   * The guest's clock now, in seconds, one second early (so nothing changed later is missed): the
   * time its kernel stamps on a file written now. Three file calls (a few ms under TCG) instead of
   * date(1), a command (~0.9 s: libguestfs bind-mounts /dev, /proc and /sys around each). Every
   * build writes the probe at this same point, and the clamp sets /var/tmp's time back to the epoch.
   */
  public static long guestClock(ImageSession image) throws IOException {
    image.write(CLOCK_PROBE, new byte[0], 0600);
    try {
      return image.mtime(CLOCK_PROBE) - 1;
    } finally {
      image.remove(CLOCK_PROBE);
    }
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    if (unclamped) {
      deferred = true;
      return "read on the host once the image is closed, times set back there; the root file system is rebuilt "
          + "from that tree";
    }
    String listed;
    try {
      listed = image.command(clampCommand(image.os().rootMounts(), since));
    } catch (IOException e) {
      throw new IOException("setting file times after the epoch back to it: " + e.getMessage(), e);
    }
    if (since != null) {
      changed = changedPaths(listed);
    }
    Path spool = options.work().resolve("root-tree.spool");
    // The host reads a whole ext4 root in about the time the appliance needs to list it: the
    // layer's tree is for the roots it cannot read (xfs, btrfs, LVM).
    if (!hostMay && earlier != null && changed != null) {
      try {
        tree = partial(image, spool);
      } catch (IOException e) {
        events.warn("the step cache's tree of the layer was not used (" + e.getMessage()
            + "); reading the whole root file system");
      }
    }
    if (tree == null && hostMay) {
      deferred = true;
      return "times after the epoch set back to it; the tree is read on the host once the image is closed";
    }
    if (tree == null) {
      image.tarOutRoot(in -> tree = RootTree.read(in, spool, options.epoch()));
    }
    return describe();
  }

  /** What was read: paths, how many came from the layer's tree, bytes, the tree digest. */
  public String describe() {
    return summary(tree, read);
  }

  /** A tree's paths ({@code read} of them read when it is 0 or more), bytes and tree digest. */
  public static String summary(RootTree tree, int read) {
    return tree.entries().size() + " paths" + (read >= 0 ? " (" + read + " read, the rest from the layer's tree)" : "")
        + ", " + (tree.contentBytes() >> 20) + " MiB, tree digest "
        + RootTree.digest(tree.manifest()).encoded().substring(0, 12);
  }

  private RootTree partial(ImageSession image, Path spool) throws IOException {
    List<String> listing = image.listRoot();
    RootTree cached = earlier.tree();
    PartialRead.Selection sel = PartialRead.select(listing, changed, cached.paths(), earlier.stale());
    RootTree[] fresh = new RootTree[1];
    image.tarOutRoot(sel.excludes(), in -> fresh[0] = RootTree.read(in, spool, options.epoch()));
    try {
      Set<String> got = fresh[0].paths();
      for (String p : sel.read()) {
        if (!got.contains(p)) {
          throw new IOException("the partial read lacks " + p);
        }
      }
      Set<String> expected = new HashSet<>(listing);
      expected.add(".");
      RootTree merged = RootTree.merge(cached, p -> !changed.contains(p) && !earlier.stale().contains(p), fresh[0],
          expected);
      read = got.size();
      return merged;
    } catch (IOException | RuntimeException e) {
      fresh[0].close();
      throw e;
    }
  }

  /** The paths the clamp's find printed (absolute, or "./"-relative on a host directory), relative, no "./". */
  static Set<String> changedPaths(String listed) {
    Set<String> out = new HashSet<>();
    for (String line : listed.split("\n")) {
      String p = line.replaceFirst("^\\.?/", "");
      if (!p.isEmpty() && !p.equals(".")) {
        out.add(p);
      }
    }
    return out;
  }

  /** The tree read by {@link #apply} (its owner closes it), or null before. */
  public RootTree tree() {
    return tree;
  }

  /** Paths changed since {@link #since} as seen before the clamp, or null when not asked or not known. */
  public Set<String> changed() {
    return changed;
  }

  /** Whether the tree was merged from a partial read and an earlier tree. */
  public boolean partialRead() {
    return read >= 0;
  }
}
