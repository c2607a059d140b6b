package io.hypervisor.assembler.steps;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.tree.RootTree;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tree step's partial read against real files, GNU find and GNU tar: a layer's files copied,
 * changed one way by a "cold" build that saves its tree with the paths it changed, and another
 * way by a "warm" build that starts from the same layer. The warm build's tree, read partly and
 * merged with the saved one, must be the tree a full read gives: the same manifest and the same
 * canonical tar bytes, including a path the cold build changed and the warm one did not (the
 * layer's version, not the cold build's), hard links, a symbolic link, names with wildcard
 * characters, removals.
 */
class TreeStepTest {
  private static final long EPOCH = 1_700_000_000L;

  @TempDir
  Path tmp;

  /** A directory as an image whose find(1) runs on the host, in that directory. */
  private static final class Host extends DirectorySession {
    private final Path root;

    Host(Path root) {
      super(root);
      this.root = root;
    }

    @Override
    public String command(List<String> argv) {
      List<String> cmd = new ArrayList<>(argv);
      if (!cmd.get(0).equals("find") || !cmd.get(1).equals("/") || !cmd.get(2).equals("-xdev")) {
        throw new IllegalArgumentException("not on the host: " + argv);
      }
      cmd.set(1, ".");
      Tools.Result r = Tools.run(cmd, root, 60);
      r.ok();
      return r.out();
    }
  }

  private static void write(Path p, String content) throws IOException {
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
  }

  private Path layer() throws IOException {
    Path l = tmp.resolve("layer");
    write(l.resolve("etc/hostname"), "layer\n");
    write(l.resolve("etc/odd*name[1]"), "odd\n");
    write(l.resolve("etc/keep"), "keep\n");
    write(l.resolve("usr/bin/ping"), "ELF ping");
    write(l.resolve("usr/lib/x/data.bin"), "data");
    write(l.resolve("var/lib/dpkg/status"), "Package: a\n");
    Files.createLink(l.resolve("usr/bin/ping4"), l.resolve("usr/bin/ping"));
    Files.createLink(l.resolve("usr/bin/aping"), l.resolve("usr/bin/ping"));
    Files.createSymbolicLink(l.resolve("bin"), Path.of("usr/bin"));
    Tools.run(List.of("setfattr", "-n", "user.note", "-v", "0x00ff10", l.resolve("etc/keep").toString())).ok();
    return l;
  }

  /** A copy of the layer, old enough that the clock read after it is later than every ctime in it. */
  private Path copy(Path layer, String name) throws Exception {
    Path to = tmp.resolve(name);
    Tools.run(List.of("cp", "-a", layer.toString(), to.toString())).ok();
    Thread.sleep(2100);
    return to;
  }

  private static byte[] tar(RootTree t) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    t.writeTar(Channels.newChannel(b));
    return b.toByteArray();
  }

  private TreeStep step(String spool) throws IOException {
    return new TreeStep(new TreeStep.Options(EPOCH, Files.createDirectories(tmp.resolve(spool))));
  }

  @Test
  void theClampCoversEveryMountOfTheRootFileSystem() throws IOException {
    TreeStep t = step("clamp");
    assertEquals("find / -xdev ( -newermt @1700000000 -exec touch -h -d @1700000000 {} + )",
        String.join(" ", t.clampCommand(List.of("/"), null)));
    assertEquals("find / /home /var -xdev ( -newerct @1699999000 -printf %p\\n ) , ( -newermt @1700000000 -exec touch"
        + " -h -d @1700000000 {} + )", String.join(" ", t.clampCommand(List.of("/", "/home", "/var"), 1_699_999_000L)));
    assertEquals(java.util.Set.of("etc/x", "home", "home/a b"), TreeStep.changedPaths("/\n/etc/x\n/home\n/home/a b\n"));
    assertEquals(java.util.Set.of("etc/x"), TreeStep.changedPaths(".\n./etc/x\n"));
  }

  @Test
  void aWarmBuildReadsOnlyWhatChangedAndGetsTheFullTree() throws Exception {
    Path layer = layer();
    Path saved = Files.createDirectories(tmp.resolve("saved"));

    Path cold = copy(layer, "cold");
    Host coldImage = new Host(cold);
    TreeStep coldStep = step("cold-work");
    coldStep.since(TreeStep.guestClock(coldImage), null);
    write(cold.resolve("etc/hostname"), "cold\n");
    write(cold.resolve("etc/cold-only"), "x\n");
    Files.delete(cold.resolve("usr/lib/x/data.bin"));
    coldStep.apply(coldImage, EventSink.NONE);
    assertFalse(coldStep.partialRead());
    assertTrue(coldStep.changed().containsAll(List.of("etc/hostname", "etc/cold-only", "usr/lib/x")),
        coldStep.changed().toString());
    assertFalse(coldStep.changed().contains("usr/bin/ping"), coldStep.changed().toString());
    try (RootTree t = coldStep.tree()) {
      t.save(saved, coldStep.changed());
    }

    Path warm = copy(layer, "warm");
    Host warmImage = new Host(warm);
    TreeStep warmStep = step("warm-work");
    RootTree.Saved earlier = RootTree.load(saved);
    warmStep.since(TreeStep.guestClock(warmImage), new TreeStep.Earlier(earlier.tree(), earlier.extra()));
    Files.writeString(warm.resolve("usr/bin/aping"), "ELF ping, patched"); // all three names of the file
    write(warm.resolve("var/lib/containerd/blob"), "blob");
    Files.delete(warm.resolve("bin"));
    Files.delete(warm.resolve("etc/odd*name[1]"));
    Tools.run(List.of("chmod", "600", warm.resolve("var/lib/dpkg/status").toString())).ok();
    String said = warmStep.apply(warmImage, EventSink.NONE);
    assertTrue(warmStep.partialRead(), said);

    TreeStep full = step("full-work");
    full.apply(warmImage, EventSink.NONE);
    try (RootTree merged = warmStep.tree(); RootTree whole = full.tree()) {
      assertEquals(new String(whole.manifest(), StandardCharsets.UTF_8), new String(merged.manifest(),
          StandardCharsets.UTF_8));
      assertArrayEquals(tar(whole), tar(merged));
      assertTrue(new String(merged.manifest(), StandardCharsets.UTF_8).contains("etc/hostname"));
      assertTrue(said.matches("\\d+ paths \\((\\d+) read, the rest from the layer's tree\\).*"), said);
      int read = Integer.parseInt(said.replaceFirst("^\\d+ paths \\((\\d+) read.*", "$1"));
      assertTrue(read < whole.entries().size(), said);
    } finally {
      earlier.tree().close();
    }
    // the layer's own etc/hostname, not the cold build's: a stale path is read again
    assertEquals("layer\n", Files.readString(warm.resolve("etc/hostname")));
  }

  @Test
  void aDamagedSavedTreeIsRefused() throws Exception {
    Path layer = layer();
    Path saved = Files.createDirectories(tmp.resolve("saved"));
    TreeStep s = step("work");
    s.apply(new Host(layer), EventSink.NONE);
    try (RootTree t = s.tree()) {
      t.save(saved, List.of());
    }
    RootTree.load(saved).tree().close();
    Path spool = saved.resolve("spool");
    byte[] b = Files.readAllBytes(spool);
    b[0] ^= 1;
    Files.delete(spool); // a hard link to the work spool: write a new file, not into the shared one
    Files.write(spool, b, StandardOpenOption.CREATE_NEW);
    IOException e = assertThrows(IOException.class, () -> RootTree.load(saved));
    assertTrue(e.getMessage().contains("contents do not match"), e.getMessage());
    Files.write(saved.resolve("index"), new byte[] {1, 2, 3});
    assertThrows(IOException.class, () -> RootTree.load(saved));
  }
}
