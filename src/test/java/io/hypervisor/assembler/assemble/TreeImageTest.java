package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.tree.RootTree;
import io.hypervisor.assembler.tree.TreeEntry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tree a build changes without an appliance, by the rules the appliance's kernel and tools
 * follow once the tree step has set every later time back to the epoch: what a change touches
 * gets the epoch (a directory when its entries change, not when a file in it is rewritten), a
 * rewritten file keeps its owner and extended attributes, truncating an empty file changes
 * nothing, tar sets a directory's time after its contents; and what it cannot do alike is
 * refused. That the whole is the appliance's tree is ReproducibleBuildIT's (same image bytes).
 */
class TreeImageTest {
  private static final long OLD = 1_600_000_000L;
  private static final long EPOCH = 1_700_000_000L;

  @TempDir
  Path tmp;

  private RootTree base;
  private TreeImage image;

  @BeforeEach
  void tree() throws IOException {
    Path tar = tmp.resolve("base.tar");
    try (FileChannel out = FileChannel.open(tar, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      FileChannel data = FileChannel.open(Files.writeString(tmp.resolve("data"), "keyfile\nAB\n"),
          StandardOpenOption.READ);
      TarWriter w = new TarWriter(out, null, 0);
      dir(w, "./");
      dir(w, "./boot/");
      dir(w, "./boot/efi/");
      dir(w, "./etc/");
      dir(w, "./etc/ssh/");
      file(w, "./etc/ssh/ssh_host_rsa_key", 0600, 0, data, 0, 8);
      file(w, "./etc/ssh/ssh_host_rsa_key.pub", 0644, 0, data, 0, 8);
      file(w, "./etc/ssh/.hidden", 0644, 0, data, 0, 8);
      dir(w, "./etc/ssh/sshd_config.d/");
      file(w, "./etc/hosts", 0644, 1000, data, 8, 3);
      file(w, "./etc/machine-id", 0444, 0, data, 0, 0);
      file(w, "./etc/hard", 0644, 0, data, 8, 3);
      w.entry(new TarWriter.Entry("./etc/hard2", '1', 0644, 0, 0, OLD, 0, "./etc/hard", 0, 0, new TreeMap<>()), 0,
          data, 0);
      w.entry(new TarWriter.Entry("./etc/alt", '2', 0777, 0, 0, OLD, 0, "/usr/lib/alt", 0, 0, new TreeMap<>()), 0,
          data, 0);
      dir(w, "./usr/");
      dir(w, "./usr/lib/");
      dir(w, "./usr/lib/alt/");
      dir(w, "./var/");
      dir(w, "./var/log/");
      file(w, "./var/log/dpkg.log", 0644, 0, data, 0, 11);
      w.finish();
      data.close();
    }
    try (InputStream in = Files.newInputStream(tar)) {
      base = RootTree.read(in, tmp.resolve("base.spool"), Long.MAX_VALUE);
    }
    ImageSession.OsInfo os = new ImageSession.OsInfo("linux", "debian", 12, 0, "x86_64", "deb", "/dev/sda1",
        Map.of("/", "/dev/sda1", "/boot/efi", "/dev/sda15"));
    image = new TreeImage(base, os, EPOCH, Map.of("echo hi\n", "hi\n"), tmp,
        io.hypervisor.assembler.events.EventSink.NONE);
  }

  private static void dir(TarWriter w, String name) throws IOException {
    w.entry(new TarWriter.Entry(name, '5', 0755, 0, 0, OLD, 0, null, 0, 0, new TreeMap<>()), 0, null, 0);
  }

  private static void file(TarWriter w, String name, int mode, long uid, FileChannel data, long at, long size)
      throws IOException {
    TreeMap<String, byte[]> pax = new TreeMap<>();
    if (uid != 0) {
      pax.put("SCHILY.xattr.user.note", "kept".getBytes(StandardCharsets.UTF_8));
    }
    w.entry(new TarWriter.Entry(name, '0', mode, uid, uid, OLD, 0, null, 0, 0, pax), size, data, at);
  }

  private Map<String, TreeEntry> result() throws IOException {
    try (RootTree t = image.tree(tmp)) {
      return t.entries().stream().collect(Collectors.toMap(TreeEntry::path, Function.identity()));
    }
  }

  @Test
  void aNewFileTouchesItsDirectoryARewrittenOneKeepsItsOwnerAndAttributes() throws IOException {
    image.write("/etc/sysctl.d/99-k8s.conf", "x=1\n".getBytes(StandardCharsets.UTF_8), 0644);
    image.write("/etc/hosts", "127.0.0.1 localhost\n".getBytes(StandardCharsets.UTF_8), 0600);
    Map<String, TreeEntry> t = result();
    TreeEntry made = t.get("etc/sysctl.d/99-k8s.conf");
    assertEquals(List.of(0, 0L, 0644, EPOCH), List.of(0, made.uid(), made.mode(), made.mtime()));
    assertEquals(EPOCH, t.get("etc/sysctl.d").mtime(), "mkdir -p made it now");
    assertEquals(0755, t.get("etc/sysctl.d").mode());
    assertEquals(EPOCH, t.get("etc").mtime(), "a new entry in /etc");
    TreeEntry hosts = t.get("etc/hosts");
    assertEquals(List.of(1000L, 0600, EPOCH), List.of(hosts.uid(), hosts.mode(), hosts.mtime()));
    assertEquals("kept", new String(hosts.xattrs().get("user.note"), StandardCharsets.UTF_8));
    assertEquals(20, hosts.size());
    assertEquals(OLD, t.get(".").mtime(), "nothing new at the top");
    assertEquals(OLD, t.get("var/log/dpkg.log").mtime());
  }

  @Test
  void rewritingADirectoryEntryOnlyLeavesTheDirectoryAlone() throws IOException {
    image.write("/etc/hosts", new byte[] {'a'}, 0644);
    image.truncate("/etc/machine-id"); // empty already: truncate(2) to the same size changes no time
    image.truncate("/var/log/dpkg.log");
    Map<String, TreeEntry> t = result();
    assertEquals(OLD, t.get("etc").mtime());
    assertEquals(OLD, t.get("etc/machine-id").mtime());
    assertEquals(EPOCH, t.get("var/log/dpkg.log").mtime());
    assertEquals(0, t.get("var/log/dpkg.log").size());
    assertEquals(OLD, t.get("var/log").mtime());
  }

  @Test
  void globMarksDirectoriesSkipsHiddenNamesAndRemoveTouchesTheParent() throws IOException {
    assertEquals(List.of("/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_rsa_key.pub"),
        image.glob("/etc/ssh/ssh_host_*"));
    assertEquals(List.of("/etc/ssh/.hidden"), image.glob("/etc/ssh/.[!.]*"));
    assertEquals(List.of("/etc/ssh/sshd_config.d/"), image.glob("/etc/ssh/*.d"));
    assertEquals(List.of(), image.glob("/nowhere/*"));
    for (String p : image.glob("/etc/ssh/ssh_host_*")) {
      image.remove(p);
    }
    image.remove("/etc/ssh/sshd_config.d/");
    image.remove("/etc/not-there");
    Map<String, TreeEntry> t = result();
    assertFalse(t.containsKey("etc/ssh/ssh_host_rsa_key") || t.containsKey("etc/ssh/sshd_config.d"));
    assertEquals(EPOCH, t.get("etc/ssh").mtime());
    assertEquals(OLD, t.get("etc").mtime());
  }

  @Test
  void linksResolveInsideTheImageAndReplaceEachOther() throws IOException {
    assertEquals("/usr/lib/alt", image.readlink("/etc/alt"));
    assertNull(image.readlink("/etc/hosts"));
    image.write("/etc/alt/inside", new byte[] {'i'}, 0644); // through the link, into /usr/lib/alt
    assertTrue(image.exists("/usr/lib/alt/inside"));
    image.symlink("/dev/null", "/etc/systemd/system/swap.target");
    image.symlink("/lib/systemd/system/x.service", "/etc/systemd/system/swap.target");
    Map<String, TreeEntry> t = result();
    assertEquals("/lib/systemd/system/x.service", t.get("etc/systemd/system/swap.target").link());
    assertEquals(EPOCH, t.get("usr/lib/alt").mtime());
    assertEquals(OLD, t.get("etc/alt").mtime());
    assertThrows(TreeImage.NeedsAppliance.class, () -> image.symlink("/x", "/etc/alt"), "ln would link inside the dir");
  }

  @Test
  void aTarSetsItsDirectoriesAfterTheirContents() throws IOException {
    ByteArrayOutputStream tar = new ByteArrayOutputStream();
    try (var ch = Channels.newChannel(tar)) {
      TarWriter w = new TarWriter(ch, null, 0);
      w.entry(new TarWriter.Entry("./", '5', 0711, 0, 0, OLD + 5, 0, null, 0, 0, new TreeMap<>()), 0, null, 0);
      Path f = Files.writeString(tmp.resolve("blob"), "blob");
      try (FileChannel data = FileChannel.open(f, StandardOpenOption.READ)) {
        w.entry(new TarWriter.Entry("./io.containerd/blobs/sha256/ab", '0', 0444, 0, 0, OLD + 7, 0, null, 0, 0,
            new TreeMap<>()), 4, data, 0);
      }
      w.finish();
    }
    byte[] bytes = tar.toByteArray();
    image.tarIn(new ImageSession.TarSource() {
      @Override
      public long size() {
        return bytes.length;
      }

      @Override
      public void writeTo(java.io.OutputStream out) throws IOException {
        out.write(bytes);
      }
    }, "/var/lib/containerd", "the store");
    Map<String, TreeEntry> t = result();
    assertEquals(List.of(0711, OLD + 5), List.of(t.get("var/lib/containerd").mode(), t.get("var/lib/containerd").mtime()));
    assertEquals(List.of(0755, EPOCH), List.of(t.get("var/lib/containerd/io.containerd").mode(),
        t.get("var/lib/containerd/io.containerd").mtime()), "a parent tar made itself");
    TreeEntry blob = t.get("var/lib/containerd/io.containerd/blobs/sha256/ab");
    assertEquals(List.of(0444, OLD + 7, 4L), List.of(blob.mode(), blob.mtime(), blob.size()));
    assertEquals("blob", new String(image.read("/var/lib/containerd/io.containerd/blobs/sha256/ab"),
        StandardCharsets.UTF_8));
    assertEquals(Map.of("io.containerd/blobs/sha256/ab", blob.sha256()), image.sha256Under("/var/lib/containerd"));
  }

  @Test
  void aStoreThatFailsWhileStreamingSaysWhyNotThatTheTarWasCut() {
    IOException e = assertThrows(IOException.class, () -> image.tarIn(new ImageSession.TarSource() {
      @Override
      public long size() {
        return 1 << 20;
      }

      @Override
      public void writeTo(java.io.OutputStream out) throws IOException {
        out.write(new byte[700]); // part of a header block, then the store fails
        throw new IOException("blob sha256:ab is not in the content store");
      }
    }, "/var/lib/containerd", "the store"));
    assertEquals("blob sha256:ab is not in the content store", e.getMessage());
  }

  @Test
  void whatOnlyTheApplianceDoesIsRefused() throws IOException {
    assertThrows(TreeImage.NeedsAppliance.class, () -> image.write("/etc/hard", new byte[0], 0644), "hard link");
    assertThrows(TreeImage.NeedsAppliance.class, () -> image.remove("/etc/hard2"), "hard link");
    assertThrows(TreeImage.NeedsAppliance.class, () -> image.write("/boot/efi/x", new byte[0], 0644), "the ESP");
    assertThrows(TreeImage.NeedsAppliance.class, () -> image.command(List.of("true")));
    assertThrows(TreeImage.NeedsAppliance.class, () -> image.sh("echo other\n"));
    assertEquals("hi\n", image.sh("echo hi\n"), "a recorded run");
    assertEquals("AB\n", new String(image.read("/etc/hard2"), StandardCharsets.UTF_8));
  }
}
