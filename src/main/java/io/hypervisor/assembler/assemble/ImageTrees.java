package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.SmallFiles;
import io.hypervisor.assembler.sys.Posix;
import io.hypervisor.assembler.tree.Mtree;
import io.hypervisor.assembler.tree.RootTree;
import io.hypervisor.assembler.tree.TreeEntry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The root tree of an image or of a tree manifest ({@code NAME.mtree}), for {@code assemble
 * diff}: a manifest is parsed; an image is read through one read-only appliance (tar_out of its
 * root file system, contents spooled under the work directory and deleted after hashing).
 */
public final class ImageTrees {
  /** The largest tree manifest read (a node image's is a few MB). */
  private static final long MAX_MANIFEST = 512L << 20;

  private final Settings settings;
  private final EventSink events;

  public ImageTrees(Settings settings, EventSink events) {
    this.settings = settings;
    this.events = events;
  }

  /** The entries of {@code file}: an mtree manifest when it starts with "#mtree", else a disk image. */
  public List<TreeEntry> read(Path file) {
    if (!Files.isRegularFile(file)) {
      throw AssemblerException.input("no image or tree manifest at " + file,
          "give a built image or the NAME.mtree written beside it");
    }
    try {
      if (isManifest(file)) {
        return Mtree.parse(SmallFiles.read(file, MAX_MANIFEST, "tree manifest"));
      }
    } catch (IOException e) {
      throw AssemblerException.input("cannot read the tree manifest " + file + ": " + e.getMessage(),
          "give the NAME.mtree a build wrote, or the image itself");
    }
    Path dir;
    try {
      dir = WorkDirs.create(settings.workDir(), "diff-");
    } catch (IOException e) {
      throw AssemblerException.host("cannot create a directory under " + settings.workDir() + ": " + e.getMessage(),
          "check --work-dir");
    }
    try (GuestfsSession s = GuestfsSession.open(GuestfsSession.Options.readOnly(file, DiskFormat.of(file),
        Locker.accelerator(settings, events), settings.launchTimeout()).withCpus(settings.guestCpus())
        .withStreams(dir, p -> Posix.mkfifo(p, 0600)), events)) {
      RootTree[] tree = new RootTree[1];
      // No clamp: an image built reproducibly already has its times clamped, and any other is shown as it is.
      s.tarOutRoot(in -> tree[0] = RootTree.read(in, dir.resolve("tree.spool"), Long.MAX_VALUE));
      try (RootTree t = tree[0]) {
        return t.entries();
      }
    } catch (IOException e) {
      throw AssemblerException.failed("reading the root tree of " + file + ": " + e.getMessage(),
          "is it a disk image with a Linux root file system?");
    } finally {
      WorkDirs.delete(dir);
    }
  }

  private static boolean isManifest(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return new String(in.readNBytes(6), StandardCharsets.US_ASCII).equals("#mtree");
    }
  }
}
