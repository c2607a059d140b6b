package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.guestfs.Gpt;
import io.hypervisor.assembler.guestfs.ImageSession.Partition;
import io.hypervisor.assembler.sys.Processes;
import io.hypervisor.assembler.tree.Ext4Rebuild;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The ext4 root of a step cache layer's raw disk grown on the host to a build's disk, as the
 * appliance grows it at a launch, for a root that is then rebuilt from its tree: the disk made
 * that size and its GPT written for it by {@link Gpt} (the bytes the appliance's grow writes),
 * and the superblock the grown file system would have, from {@code e2fsck -f -p} and {@code
 * resize2fs} (the tools the appliance runs, from the same host packages) on a metadata copy of
 * it ({@code e2image -r}: resize2fs at a file offset would cut the file at the file system's
 * end). The file system in the disk stays as it is; the rebuild replaces it.
 */
final class HostGrow {
  private HostGrow() {}

  /** The grown root partition and the superblock its file system gets, as {@code tune2fs -l} lists it. */
  record Grown(Partition root, Map<String, String> superblock) {}

  /**
   * The root partition after the grow, with its superblock (unchanged when the table already
   * reaches the disk's end or the root is not last), or empty when the table is not one
   * {@link Gpt} writes.
   */
  static Optional<Grown> grow(Path raw, Partition root, long diskBytes, Path work) throws IOException {
    byte[] head = new byte[Gpt.HEAD_SECTORS * Gpt.SECTOR];
    Partition before = root;
    Partition after;
    try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "rw")) {
      // a layer made on a larger disk holds nothing past its root's end but a backup table
      f.setLength(diskBytes);
      f.readFully(head);
      Optional<Gpt> table = Gpt.parse(head);
      if (table.isEmpty()) {
        return Optional.empty();
      }
      Optional<Gpt.Grown> grown = table.get().last(root.number())
          ? table.get().grown(root.number(), diskBytes / Gpt.SECTOR) : Optional.empty();
      if (grown.isEmpty()) {
        return Optional.of(new Grown(root, Ext4Rebuild.superblock(raw, root.start())));
      }
      f.seek(0);
      f.write(grown.get().head());
      f.seek(grown.get().tailAt() * Gpt.SECTOR);
      f.write(grown.get().tail());
      after = new Partition(root.device(), root.number(), grown.get().grown().start(), grown.get().grown().size(),
          root.fsType());
    }
    Path metadata = work.resolve("root-metadata.img");
    try {
      Processes.run(List.of("e2image", "-r", "-o", Long.toString(before.start()), raw.toString(), metadata.toString()),
          Map.of("LC_ALL", "C"), 600);
      Processes.run(List.of("e2fsck", "-f", "-p", metadata.toString()), Map.of("LC_ALL", "C"), 600);
      // the partition's size, as resize2fs takes it from the device in the appliance
      Processes.run(List.of("resize2fs", metadata.toString(), (after.size() / Gpt.SECTOR) + "s"), Map.of("LC_ALL", "C"),
          600);
      return Optional.of(new Grown(after, Ext4Rebuild.superblock(metadata, 0)));
    } finally {
      Files.deleteIfExists(metadata);
    }
  }
}
