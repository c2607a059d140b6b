package io.hypervisor.assembler.tree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one-pass ext4 rebuild against the real e2fsprogs (≥ 1.47.1): a GPT disk whose second
 * partition is an ext4 made by mke2fs as a cloud image's would be, rebuilt from a canonical tar
 * twice, at different times and from different work directories, gives the same bytes; e2fsck
 * finds it clean; debugfs reads back the base's UUID and label, the capability on ping, the hard
 * link count, clamped times; the first partition and the partition table are untouched.
 */
class Ext4RebuildTest {
  private static final long EPOCH = 1_700_000_000L;
  private static final long SECTOR = 512;
  private static final long ROOT_START = 18432 * SECTOR;

  @TempDir
  Path tmp;

  /** An 80 MiB GPT disk: a 8 MiB partition of random bytes, then an ext4 root over the rest. */
  private Path baseDisk(String name) throws IOException {
    Path raw = tmp.resolve(name);
    try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.truncate(0);
    }
    Tools.run(List.of("truncate", "-s", "80M", raw.toString())).ok();
    Process p = new ProcessBuilder("sfdisk", "-q", raw.toString()).redirectErrorStream(true).start();
    try (OutputStream in = p.getOutputStream()) {
      in.write(("label: gpt\nlabel-id: 3FF2186E-1096-804C-AE7C-A9FC02E9E37B\n"
          + "start=2048, size=16384, type=21686148-6449-6E6F-744E-656564454649\n"
          + "start=18432, size=143360, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n").getBytes());
    }
    try {
      assertEquals(0, p.waitFor(), new String(p.getInputStream().readAllBytes()));
    } catch (InterruptedException e) {
      throw new IOException(e);
    }
    byte[] noise = new byte[16384 * 512];
    new Random(7).nextBytes(noise);
    try (FileChannel ch = FileChannel.open(raw, StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(noise), 2048 * SECTOR);
    }
    Tools.run(List.of("mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-L", "root", "-E", "offset=" + ROOT_START,
        raw.toString(), Long.toString(143360 * SECTOR / 4096))).ok();
    return raw;
  }

  /** {@code tune2fs -l} of the root, as the key → value map libguestfs's tune2fs_l gives. */
  private static Map<String, String> superblock(Path raw) {
    Map<String, String> sb = new LinkedHashMap<>();
    for (String line : Tools.run(List.of("tune2fs", "-l", raw + "?offset=" + ROOT_START)).ok().out().split("\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith("tune2fs ")) {
        sb.put(line.substring(0, colon), line.substring(colon + 1).trim());
      }
    }
    return sb;
  }

  private Path canonicalTar(String name) throws IOException {
    Path root = Files.createDirectories(tmp.resolve(name + "-tree"));
    Files.createDirectories(root.resolve("usr/bin"));
    Files.createDirectories(root.resolve("etc"));
    Files.writeString(root.resolve("etc/hostname"), "node\n");
    Files.writeString(root.resolve("usr/bin/ping"), "ELF ping");
    Files.createLink(root.resolve("usr/bin/ping4"), root.resolve("usr/bin/ping"));
    Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
    Tools.run(List.of("setcap", "cap_net_raw+ep", root.resolve("usr/bin/ping").toString())).ok();
    Tools.run(List.of("mkfifo", root.resolve("etc/fifo").toString())).ok();
    Tools.run(List.of("touch", "-h", "-d", "@" + (EPOCH - 86400), root.resolve("etc/hostname").toString())).ok();
    Path tar = tmp.resolve(name + ".tar");
    Process p = new ProcessBuilder("tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root.toString(),
        "-cf", "-", ".").redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (InputStream in = p.getInputStream(); RootTree t = RootTree.read(in, tmp.resolve(name + ".spool"), EPOCH);
        FileChannel out = FileChannel.open(tar, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      t.writeTar(out);
    }
    return tar;
  }

  private static String debugfs(Path raw, String request) {
    return Tools.run(List.of("debugfs", "-R", request, raw + "?offset=" + ROOT_START)).ok().out();
  }

  @Test
  void twoRebuildsGiveTheSameBytesAndKeepWhatTheBootloaderReads() throws Exception {
    Ext4Rebuild.mke2fsVersion();
    Path a = baseDisk("a.raw");
    Path b = tmp.resolve("b.raw");
    Files.copy(a, b);
    Ext4Rebuild.Params params = Ext4Rebuild.Params.of(superblock(a));
    String before = Ext4Rebuild.outside(a, ROOT_START, 143360 * SECTOR);

    Ext4Rebuild.rebuild(a, ROOT_START, 143360 * SECTOR, params, canonicalTar("one"), EPOCH,
        Files.createDirectories(tmp.resolve("work-one")));
    Thread.sleep(1100); // another second on the clock: nothing may depend on it
    Ext4Rebuild.rebuild(b, ROOT_START, 143360 * SECTOR, params, canonicalTar("two"), EPOCH,
        Files.createDirectories(tmp.resolve("elsewhere/work-two")));

    assertEquals(Tools.run(List.of("sha256sum", a.toString())).ok().out().split(" ")[0],
        Tools.run(List.of("sha256sum", b.toString())).ok().out().split(" ")[0], "the same bytes twice");
    assertEquals(before, Ext4Rebuild.outside(a, ROOT_START, 143360 * SECTOR), "table and ESP untouched");

    Map<String, String> sb = superblock(a);
    assertEquals(params.uuid(), sb.get("Filesystem UUID"));
    assertEquals("root", sb.get("Filesystem volume name"));
    assertEquals(params.hashSeed(), sb.get("Directory Hash Seed"));
    assertEquals(params.features(), Ext4Rebuild.Params.of(sb).features());
    assertEquals(params.inodeCount(), Ext4Rebuild.Params.of(sb).inodeCount());
    String ping = debugfs(a, "stat /usr/bin/ping");
    assertTrue(ping.contains("Links: 2"), ping);
    assertTrue(ping.contains("security.capability (20) = 01 00 00 02 00 20 00 00"), ping);
    assertTrue(ping.contains("mtime: 0x" + Long.toHexString(EPOCH)), "clamped to the epoch: " + ping);
    String hostname = debugfs(a, "stat /etc/hostname");
    assertTrue(hostname.contains("mtime: 0x" + Long.toHexString(EPOCH - 86400)), "an older time kept: " + hostname);
    assertEquals("usr/bin", debugfs(a, "stat /bin").replaceAll("(?s).*Fast link dest: \"([^\"]*)\".*", "$1"));
    assertTrue(debugfs(a, "ls -l /etc").contains("fifo"));
    Tools.run(List.of("e2fsck", "-f", "-n", a + "?offset=" + ROOT_START)).ok();
    assertNotEquals(params.uuid(), "", "the base's UUID read");
  }

  @Test
  void aRangeOffItsBlockSizeIsRefusedBeforeAnyWrite() throws Exception {
    Path a = baseDisk("c.raw");
    Ext4Rebuild.Params params = Ext4Rebuild.Params.of(superblock(a));
    String sha = Tools.run(List.of("sha256sum", a.toString())).ok().out();
    IOException e = assertThrows(IOException.class, () -> Ext4Rebuild.rebuild(a, ROOT_START + 512, 143360 * SECTOR,
        params, tmp.resolve("none.tar"), EPOCH, tmp));
    assertTrue(e.getMessage().contains("aligned"), e.getMessage());
    assertEquals(sha, Tools.run(List.of("sha256sum", a.toString())).ok().out());
  }
}
