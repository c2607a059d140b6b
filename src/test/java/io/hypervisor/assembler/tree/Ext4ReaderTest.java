package io.hypervisor.assembler.tree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host's ext4 reader against the real tools: mke2fs -d puts a directory into an ext4 file
 * system at an offset inside a disk file (as a root partition lies in a disk), and the tree read
 * from it must be the tree GNU tar gives of that directory, byte for byte in the manifest: big,
 * sparse and fragmented files, a directory large enough for an htree index, fast and slow
 * symlinks, hard links, devices, a FIFO, a socket (left out by both), owners beyond 16 bits,
 * setuid bits, nanosecond times, user/trusted/security attributes (security.capability as bytes).
 * What it does not read is refused as {@link Ext4Reader.Unsupported} (inline data, ACLs), and a
 * broken file system is an error, not a hang.
 */
class Ext4ReaderTest {
  private static final long EPOCH = 1_700_000_000L;
  private static final long OFFSET = 1 << 20;

  @TempDir
  Path tmp;

  private Path source() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("src"));
    Files.createDirectories(root.resolve("etc"));
    Files.writeString(root.resolve("etc/hostname"), "node\n");
    Files.createDirectories(root.resolve("usr/bin"));
    Files.writeString(root.resolve("usr/bin/ping"), "ELF ping");
    Files.createLink(root.resolve("usr/bin/ping4"), root.resolve("usr/bin/ping"));
    Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
    Files.createSymbolicLink(root.resolve("usr/long-link"), Path.of("x/".repeat(70) + "target"));
    byte[] big = new byte[5 << 20];
    new java.util.Random(7).nextBytes(big);
    Files.write(root.resolve("usr/big.bin"), big);
    try (RandomAccessFile f = new RandomAccessFile(root.resolve("usr/sparse.bin").toFile(), "rw")) {
      f.seek(3 << 20);
      f.write("after a hole".getBytes(StandardCharsets.UTF_8));
      f.setLength(8 << 20); // and a hole at the end
    }
    Path many = Files.createDirectories(root.resolve("var/lib/many"));
    for (int i = 0; i < 1500; i++) {
      Files.writeString(many.resolve("entry-with-a-longish-name-" + i), Integer.toString(i));
    }
    Files.createDirectories(root.resolve("dev"));
    Tools.run(List.of("mknod", root.resolve("dev/null").toString(), "c", "1", "3")).ok();
    Tools.run(List.of("mknod", root.resolve("dev/big").toString(), "b", "259", "300000")).ok();
    Tools.run(List.of("mkfifo", root.resolve("var/fifo").toString())).ok();
    Tools.run(List.of("python3", "-c", "import socket; socket.socket(socket.AF_UNIX).bind('" + root.resolve("var/sock")
        + "')")).ok();
    Tools.run(List.of("setcap", "cap_net_raw+ep", root.resolve("usr/bin/ping").toString())).ok();
    Tools.run(List.of("setfattr", "-n", "user.note", "-v", "0x00ff10", root.resolve("etc/hostname").toString())).ok();
    Tools.run(List.of("setfattr", "-n", "trusted.big", "-v", "0x" + "ab".repeat(3000), root.resolve("etc").toString()))
        .ok();
    Tools.run(List.of("chown", "-h", "100000:70000", root.resolve("etc/hostname").toString())).ok();
    Tools.run(List.of("chmod", "4750", root.resolve("usr/bin/ping").toString())).ok();
    // whole seconds: mke2fs -d drops nanoseconds (they are set in the file system below)
    Tools.run(List.of("find", root.toString(), "-exec", "touch", "-h", "-d", "@" + (EPOCH - 3600), "{}", "+")).ok();
    Tools.run(List.of("touch", "-h", "-d", "@" + (EPOCH - 7200), root.resolve("usr/big.bin").toString())).ok();
    return root;
  }

  /** An ext4 file system made from {@code dir} at {@link #OFFSET} of a disk file. */
  private Path disk(Path dir, String name, String... options) {
    Path disk = tmp.resolve(name);
    List<String> cmd = new ArrayList<>(List.of("mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256",
        "-E", "offset=" + OFFSET));
    cmd.addAll(List.of(options));
    cmd.addAll(List.of("-d", dir.toString(), disk.toString(), "64M"));
    Tools.run(cmd).ok();
    return disk;
  }

  private RootTree tar(Path dir) throws IOException {
    Process p = new ProcessBuilder("tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "-C",
        dir.toString(), "-cf", "-", ".").redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (InputStream in = p.getInputStream()) {
      return RootTree.read(in, tmp.resolve("tar.spool"), Long.MAX_VALUE);
    }
  }

  private static String manifest(RootTree t, boolean withoutLostFound) {
    String m = new String(t.manifest(), StandardCharsets.UTF_8);
    if (!withoutLostFound) {
      return m;
    }
    StringBuilder b = new StringBuilder();
    for (String line : m.split("\n", -1)) {
      if (!line.startsWith("./lost+found ") && !line.startsWith(". ")) {
        b.append(line).append('\n');
      }
    }
    return b.toString();
  }

  @Test
  void readsTheTreeGnuTarGivesOfTheSameDirectory() throws Exception {
    Path src = source();
    Path disk = disk(src, "disk.raw");
    long fsBytes = 64L << 20;
    // what a kernel writes and mke2fs -d does not: nanoseconds (0x1d6f3454 = 123456789 << 2), and
    // seconds past 2038 (the extra field's epoch bits)
    Tools.run(List.of("debugfs", "-w", "-R", "set_inode_field /etc/hostname mtime_extra 0x1d6f3454",
        disk + "?offset=" + OFFSET)).ok();
    Tools.run(List.of("debugfs", "-w", "-R", "set_inode_field /var/fifo mtime_extra 1", disk + "?offset=" + OFFSET))
        .ok();
    Tools.run(List.of("touch", "-h", "-d", "@" + (EPOCH - 3600) + ".123456789", src.resolve("etc/hostname").toString()))
        .ok();
    try (RootTree expected = tar(src);
        RootTree got = Ext4Reader.tree(disk, OFFSET, fsBytes, tmp.resolve("ext4.spool"), Long.MAX_VALUE)) {
      String fifo = "./var/fifo type=fifo uid=0 gid=0 mode=0644 time=" + (EPOCH - 3600 + (1L << 32)) + ".000000000";
      assertTrue(manifest(got, true).contains(fifo + "\n"), manifest(got, true));
      assertEquals(manifest(expected, true).replaceFirst("\\./var/fifo type=fifo[^\\n]*", fifo),
          manifest(got, true));
      assertEquals(expected.contentBytes(), got.contentBytes());
      assertTrue(manifest(got, false).contains("./usr/bin/ping4 "), manifest(got, false));
      assertTrue(got.entries().stream().anyMatch(e -> e.path().equals("lost+found")));
    }
  }

  @Test
  void refusesWhatItDoesNotReadSoTheApplianceCan() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("small"));
    Files.writeString(src.resolve("tiny"), "inline me");
    Path inline = disk(src, "inline.raw", "-O", "inline_data");
    Ext4Reader.Unsupported e = assertThrows(Ext4Reader.Unsupported.class,
        () -> Ext4Reader.tree(inline, OFFSET, 64L << 20, tmp.resolve("i.spool"), EPOCH).close());
    assertTrue(e.getMessage().contains("inline"), e.getMessage());

    Tools.run(List.of("setfacl", "-m", "u:1234:r", src.resolve("tiny").toString())).ok();
    Path acl = disk(src, "acl.raw");
    e = assertThrows(Ext4Reader.Unsupported.class,
        () -> Ext4Reader.tree(acl, OFFSET, 64L << 20, tmp.resolve("a.spool"), EPOCH).close());
    assertTrue(e.getMessage().contains("POSIX ACL"), e.getMessage());

    e = assertThrows(Ext4Reader.Unsupported.class,
        () -> Ext4Reader.tree(acl, 0, 64L << 20, tmp.resolve("n.spool"), EPOCH).close());
    assertTrue(e.getMessage().contains("no ext2/3/4 superblock"), e.getMessage());
  }

  @Test
  void aBrokenFileSystemIsAnErrorNotAHang() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("b"));
    Files.writeString(src.resolve("f"), "x".repeat(10000));
    Path disk = disk(src, "broken.raw");
    // every inode table entry's extent header of the root's first data block loses its magic:
    // find the root directory's data through debugfs and overwrite it with a loop of itself
    String blocks = Tools.run(List.of("debugfs", "-R", "blocks /", disk + "?offset=" + OFFSET)).ok().out().trim();
    long block = Long.parseLong(blocks.split("\\s+")[0]);
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.seek(OFFSET + block * 4096 + 4);
      f.write(new byte[] {2, 0}); // the "." entry's rec_len becomes 2: shorter than an entry
    }
    IOException e = assertThrows(IOException.class,
        () -> Ext4Reader.tree(disk, OFFSET, 64L << 20, tmp.resolve("b.spool"), EPOCH).close());
    assertTrue(e.getMessage().contains("broken entry"), e.getMessage());
    assertThrows(IOException.class, () -> Ext4Reader.open(disk, OFFSET, 1L << 40));
  }
}
