package io.hypervisor.assembler.tree;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.testworld.Tools;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The canonical tree against the real tools: GNU tar writes the stream (PAX, xattrs, hard links,
 * long and odd names), our reader and writer put it in canonical form, and GNU tar, bsdtar
 * (libarchive, what mke2fs -d reads tars with) and getfattr say the result holds the same tree:
 * contents, owners, modes, links, security.capability as bytes. The same tree made in another
 * order, at another time, gives the same manifest and the same tar bytes; one changed byte
 * changes the manifest and {@link TreeDiff} names the file.
 */
class RootTreeTest {
  private static final long EPOCH = 1_700_000_000L;
  private static final String LONG = "a-directory-name-that-is-long-enough/".repeat(3) + "and-a-file-name-over-100-bytes.txt";
  private static final String ODD = "odd name=with#hash\\and é";

  @TempDir
  Path tmp;

  /** A small root tree, made in the given order (directory order on disk follows creation order). */
  private Path tree(String name, boolean reverse) throws IOException {
    Path root = Files.createDirectories(tmp.resolve(name));
    List<Runnable> makers = new ArrayList<>();
    Map<String, String> files = new TreeMap<>(Map.of("etc/hostname", "node\n", "usr/bin/ping", "ELF ping",
        "usr/lib/x/data.bin", "\u0000\u0001binary", LONG, "long", "etc/" + ODD, "odd", "var/empty-file", ""));
    files.forEach((p, c) -> makers.add(() -> write(root.resolve(p), c)));
    List<Runnable> order = new ArrayList<>(makers);
    if (reverse) {
      java.util.Collections.reverse(order);
    }
    order.forEach(Runnable::run);
    Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
    Files.createLink(root.resolve("usr/bin/ping4"), root.resolve("usr/bin/ping"));
    Files.createLink(root.resolve("usr/bin/aping"), root.resolve("usr/bin/ping"));
    Tools.run(List.of("mkfifo", root.resolve("var/fifo").toString())).ok();
    Tools.run(List.of("setcap", "cap_net_raw+ep", root.resolve("usr/bin/ping").toString())).ok();
    Tools.run(List.of("setfattr", "-n", "user.note", "-v", "0x00ff10", root.resolve("etc/hostname").toString())).ok();
    Tools.run(List.of("chown", "-h", "1234:5678", root.resolve("var/empty-file").toString())).ok();
    Tools.run(List.of("chmod", "4750", root.resolve("usr/lib/x/data.bin").toString())).ok();
    // Old files keep their time; what "the build" touched is after the epoch and must be clamped.
    // (touch, not Java: opening the FIFO to set its time would block)
    Tools.run(List.of("find", root.toString(), "-exec", "touch", "-h", "-d", "@" + (EPOCH - 3600) + ".123", "{}", "+"))
        .ok();
    Files.setLastModifiedTime(root.resolve("etc/hostname"), FileTime.fromMillis(System.currentTimeMillis()));
    return root;
  }

  private static void write(Path p, String content) {
    try {
      Files.createDirectories(p.getParent());
      Files.writeString(p, content, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** GNU tar's stream of a directory, as libguestfs tar_out runs it (numeric owners, xattrs). */
  private RootTree read(Path dir, String spool) throws IOException {
    Process p = new ProcessBuilder("tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "-C",
        dir.toString(), "-cf", "-", ".").redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (InputStream in = p.getInputStream()) {
      return RootTree.read(in, tmp.resolve(spool), EPOCH);
    }
  }

  private byte[] tarBytes(RootTree t) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    t.writeTar(Channels.newChannel(out));
    return out.toByteArray();
  }

  @Test
  void theCanonicalTarHoldsTheSameTreeForGnuTarBsdtarAndGetfattr() throws Exception {
    Path src = tree("src", false);
    try (RootTree t = read(src, "a.spool")) {
      Map<String, TreeEntry> e = new HashMap<>();
      t.entries().forEach(x -> e.put(x.path(), x));
      assertEquals(".", t.entries().get(0).path(), "the root first");
      TreeEntry ping = e.get("usr/bin/ping");
      String cap = capability(src.resolve("usr/bin/ping"));
      assertEquals(3, ping.nlink(), "ping, ping4, aping");
      assertEquals(cap, Base64.getEncoder().encodeToString(ping.xattrs().get("security.capability")), "getfattr's bytes");
      assertEquals(1234, e.get("var/empty-file").uid());
      assertEquals(5678, e.get("var/empty-file").gid());
      assertEquals(04750, e.get("usr/lib/x/data.bin").mode());
      assertEquals(TreeEntry.Type.FIFO, e.get("var/fifo").type());
      assertEquals("usr/bin", e.get("bin").link());
      assertEquals(EPOCH, e.get("etc/hostname").mtime(), "a time after the epoch is clamped");
      assertEquals(0, e.get("etc/hostname").mtimeNanos());
      assertEquals(EPOCH - 3600, e.get("etc").mtime(), "an older time is kept");
      assertArrayEquals(new byte[] {0, (byte) 0xff, 0x10}, e.get("etc/hostname").xattrs().get("user.note"));
      assertTrue(e.containsKey(LONG) && e.containsKey("etc/" + ODD), e.keySet().toString());

      // GNU tar extracts the canonical tar to the same tree (read back: the same manifest).
      Path canonical = tmp.resolve("canonical.tar");
      Files.write(canonical, tarBytes(t));
      Path out = Files.createDirectories(tmp.resolve("out"));
      Tools.run(List.of("tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", out.toString(), "-xpf",
          canonical.toString())).ok();
      try (RootTree back = read(out, "b.spool")) {
        assertEquals(new String(t.manifest(), StandardCharsets.US_ASCII), new String(back.manifest(),
            StandardCharsets.US_ASCII));
      }
      assertEquals(cap, capability(out.resolve("usr/bin/ping")), "GNU tar restored the capability");

      // libarchive (bsdtar) reads the canonical tar and agrees, path by path, with our manifest.
      String mtree = Tools.run(List.of("bsdtar", "-cf", "-", "--format=mtree", "--options",
          "!all,type,uid,gid,mode,size,time,link,sha256,!use-set", "@" + canonical)).ok().out();
      Map<String, Map<String, String>> theirs = keywords(mtree);
      Map<String, Map<String, String>> ours = keywords(new String(t.manifest(), StandardCharsets.US_ASCII));
      assertEquals(ours.keySet(), theirs.keySet());
      for (String path : ours.keySet()) {
        for (String k : List.of("type", "uid", "gid", "mode", "size", "link", "sha256digest")) {
          String mine = ours.get(path).get(k);
          String bsd = theirs.get(path).get(k);
          boolean laterHardLink = ours.get(path).containsKey("nlink") && "0".equals(theirs.get(path).get("size"));
          if (laterHardLink && List.of("size", "sha256digest").contains(k)) {
            continue; // a hard link after the first name carries no data in a tar; bsdtar lists it empty
          }
          if (mine != null && bsd != null) {
            assertEquals(k.equals("mode") ? Integer.parseInt(mine, 8) : mine,
                k.equals("mode") ? Integer.parseInt(bsd, 8) : bsd, path + " " + k);
          }
        }
        assertEquals(Long.parseLong(ours.get(path).get("time").split("\\.")[0]),
            Long.parseLong(theirs.get(path).get("time").split("\\.")[0]), path + " time");
      }
    }
  }

  /** security.capability of a file, base64, as getfattr reads it. */
  static String capability(Path file) {
    String out = Tools.run(List.of("getfattr", "--absolute-names", "-e", "base64", "-n", "security.capability",
        file.toString())).ok().out();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("security\\.capability=0s(\\S+)").matcher(out);
    assertTrue(m.find(), out);
    return m.group(1);
  }

  /** Path → keyword → value of an mtree text (escapes decoded in paths). */
  private static Map<String, Map<String, String>> keywords(String mtree) {
    Map<String, Map<String, String>> out = new TreeMap<>();
    for (String line : mtree.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.trim().split("\\s+");
      String path = Mtree.unescape(f[0]).replaceFirst("^\\./", "").replaceFirst("/$", "");
      Map<String, String> kv = new TreeMap<>();
      for (int i = 1; i < f.length; i++) {
        int eq = f[i].indexOf('=');
        String k = f[i].substring(0, eq);
        kv.put(k.equals("sha256") ? "sha256digest" : k, k.equals("link") ? Mtree.unescape(f[i].substring(eq + 1))
            : f[i].substring(eq + 1));
      }
      out.put(path.matches("[./]*") ? "." : path, kv); // the root: ".", "./" or "/." by tool
    }
    return out;
  }

  @Test
  void anotherOrderAndAnotherDayGiveTheSameBytesAndOneChangedByteIsNamed() throws Exception {
    Path a = tree("a", false);
    Path b = tree("b", true);
    Files.setLastModifiedTime(b.resolve("etc/hostname"), FileTime.fromMillis(System.currentTimeMillis() + 86_400_000L));
    try (RootTree x = read(a, "x.spool"); RootTree y = read(b, "y.spool")) {
      assertArrayEquals(x.manifest(), y.manifest());
      assertArrayEquals(tarBytes(x), tarBytes(y));
      assertEquals(List.of(), TreeDiff.diff(x.entries(), y.entries()));
    }
    Files.writeString(b.resolve("usr/lib/x/data.bin"), "\u0000\u0001binarY", StandardCharsets.ISO_8859_1);
    Tools.run(List.of("touch", "-d", "@" + (EPOCH - 3600), b.resolve("usr/lib/x/data.bin").toString())).ok();
    try (RootTree x = read(a, "x.spool"); RootTree y = read(b, "y.spool")) {
      assertNotEquals(RootTree.digest(x.manifest()), RootTree.digest(y.manifest()));
      List<TreeDiff.Change> d = TreeDiff.diff(x.entries(), y.entries());
      assertEquals(1, d.size(), d.toString());
      assertTrue(d.get(0).describe().startsWith("~ ./usr/lib/x/data.bin: sha256digest "), d.get(0).describe());
      assertEquals(d.stream().map(TreeDiff.Change::describe).toList(), TreeDiff.diff(Mtree.parse(x.manifest()),
          Mtree.parse(y.manifest())).stream().map(TreeDiff.Change::describe).toList(), "the manifest says the same");
    }
  }

  @Test
  void aStreamThatIsNotATreeIsRefused() {
    byte[] junk = new byte[1024];
    junk[0] = 'x';
    IOException e = assertThrows(IOException.class,
        () -> RootTree.read(new java.io.ByteArrayInputStream(junk), tmp.resolve("j.spool"), EPOCH));
    assertTrue(e.getMessage().contains("checksum"), e.getMessage());
    assertTrue(Files.notExists(tmp.resolve("j.spool")), "no spool left behind");
    assertThrows(IOException.class, () -> RootTree.normalize("./usr/../etc"));
  }
}
