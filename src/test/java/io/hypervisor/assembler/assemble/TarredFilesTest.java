package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.testworld.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The configuration directories copied out in one tar each (GNU tar on a directory tree, as the
 * appliance's tar_out writes them) answer as the session would: links inside them followed
 * there, absolute ones against the image's root; what leads outside is asked of the session.
 */
class TarredFilesTest {
  @TempDir
  Path root;

  private final List<String> asked = new ArrayList<>();
  private final byte[] keyring = {(byte) 0x99, 0x01, (byte) 0xff, 0x00, (byte) 0xc3, 0x28};

  @BeforeEach
  void tree() throws Exception {
    Path apt = Files.createDirectories(root.resolve("etc/apt"));
    Files.writeString(apt.resolve("sources.list"), "deb http://mirror/debian bookworm main\n");
    Files.createDirectories(apt.resolve("sources.list.d"));
    Files.writeString(apt.resolve("sources.list.d/debian.sources"), "Types: deb\n");
    Files.createDirectories(apt.resolve("apt.conf.d"));
    Files.writeString(apt.resolve("apt.conf.d/00proxy"), "Acquire::http::Proxy \"none\";\n");
    Files.createDirectories(apt.resolve("preferences.d"));
    Files.createDirectories(apt.resolve("trusted.gpg.d"));
    Path keyrings = Files.createDirectories(root.resolve("usr/share/keyrings"));
    Files.write(keyrings.resolve("debian-archive-keyring.gpg"), keyring);
    Files.createSymbolicLink(apt.resolve("trusted.gpg.d/debian.gpg"),
        Path.of("/usr/share/keyrings/debian-archive-keyring.gpg"));
    Files.createSymbolicLink(apt.resolve("lists"), Path.of("sources.list.d"));
    Files.createSymbolicLink(apt.resolve("dangling"), Path.of("/nowhere"));
    Files.createSymbolicLink(apt.resolve("loop1"), Path.of("loop2"));
    Files.createSymbolicLink(apt.resolve("loop2"), Path.of("loop1"));
    Files.createSymbolicLink(apt.resolve("hostname"), Path.of("../hostname"));
    Files.createLink(apt.resolve("hard"), apt.resolve("sources.list"));
    Tools.run(List.of("mkfifo", apt.resolve("fifo").toString())).ok();
    Files.writeString(root.resolve("etc/hostname"), "node\n");
    Files.createDirectories(root.resolve("usr/lib"));
    Files.writeString(root.resolve("usr/lib/os-release"), "ID=debian\n");
    Files.createSymbolicLink(root.resolve("etc/os-release"), Path.of("../usr/lib/os-release"));
  }

  @Test
  void answersFromTheTarsAndAsksTheSessionOnlyForWhatLeadsOutside() throws Exception {
    ImageFiles f = TarredFiles.of(session(true), List.of("/etc/apt", "/usr/share/keyrings", "/etc/yum.repos.d"));
    assertEquals(List.of(), asked, "nothing asked while copying");
    assertEquals(List.of("apt.conf.d", "dangling", "fifo", "hard", "hostname", "lists", "loop1", "loop2",
        "preferences.d", "sources.list", "sources.list.d", "trusted.gpg.d"), f.list("/etc/apt"));
    assertArrayEquals(keyring, f.read("/etc/apt/trusted.gpg.d/debian.gpg"), "an absolute link, binary bytes kept");
    assertEquals("Types: deb\n", text(f.read("/etc/apt/lists/debian.sources")), "through a linked directory");
    assertEquals(List.of("debian.sources"), f.list("/etc/apt/lists"));
    assertEquals(text(f.read("/etc/apt/sources.list")), text(f.read("/etc/apt/hard")), "a hard link");
    assertNull(f.read("/etc/apt/apt.conf.d"), "a directory is no file");
    assertEquals(List.of(), f.list("/etc/apt/preferences.d"));
    assertNull(f.read("/etc/apt/fifo"));
    assertEquals(List.of(), f.list("/etc/apt/fifo"));
    assertNull(f.read("/etc/apt/missing"));
    assertEquals(List.of(), f.list("/etc/apt/sources.list"), "a file lists nothing");
    assertEquals(List.of(), asked, "all of that from the tars");

    assertEquals("node\n", text(f.read("/etc/apt/hostname")));
    assertNull(f.read("/etc/apt/dangling"));
    assertNull(f.read("/etc/apt/loop1"));
    assertEquals("ID=debian\n", text(f.read("/etc/os-release")));
    assertEquals(List.of(), f.list("/etc/yum.repos.d"), "a directory the image does not have");
    assertEquals(List.of("read /etc/apt/hostname", "read /etc/apt/dangling", "read /etc/apt/loop1",
        "read /etc/os-release", "list /etc/yum.repos.d"), asked);
  }

  private static String text(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  /**
   * An image session on the directory: tarOut by GNU tar when {@code streams}, read and list as
   * libguestfs answers them (links followed: the ones asked of it are relative, so the host
   * follows them as the image would).
   */
  private ImageSession session(boolean streams) {
    return (ImageSession) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {ImageSession.class},
        (proxy, m, args) -> {
          Path p = args == null || !(args[0] instanceof String s) ? null : root.resolve(s.replaceFirst("^/+", ""));
          switch (m.getName()) {
            case "read" -> {
              asked.add("read " + args[0]);
              return Files.isRegularFile(p) ? Files.readAllBytes(p) : null;
            }
            case "list" -> {
              asked.add("list " + args[0]);
              if (!Files.isDirectory(p)) {
                return List.of();
              }
              try (var s = Files.list(p)) {
                return s.map(x -> x.getFileName().toString()).sorted().toList();
              }
            }
            case "tarOut" -> {
              if (!streams || !Files.isDirectory(p)) {
                throw new IOException("cannot stream " + args[0]);
              }
              Process tar = new ProcessBuilder("tar", "--numeric-owner", "-C", p.toString(), "-cf", "-", ".")
                  .redirectError(ProcessBuilder.Redirect.DISCARD).start();
              try (InputStream in = tar.getInputStream()) {
                ((ImageSession.TarSink) args[1]).readFrom(in);
                in.transferTo(java.io.OutputStream.nullOutputStream());
              }
              tar.waitFor();
              return null;
            }
            default -> throw new UnsupportedOperationException(m.getName());
          }
        });
  }
}
