package io.hypervisor.assembler.pkgrepo.apt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.Signatures;
import io.hypervisor.assembler.pkgrepo.TestKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An image's apt sources in their two syntaxes, as apt reads them. */
class AptSourcesTest {
  @TempDir
  Path root;
  byte[] key;

  @BeforeEach
  void keys() throws IOException {
    key = TestKeys.armoredPublicKey("Test <test@example.invalid>");
    Files.createDirectories(root.resolve("etc/apt/sources.list.d"));
    Files.createDirectories(root.resolve("usr/share/keyrings"));
    Files.write(root.resolve("usr/share/keyrings/archive.asc"), key);
  }

  List<AptRepository> read() throws IOException {
    return AptSources.read(ImageFiles.directory(root), "amd64");
  }

  @Test
  void deb822WithSeveralSuitesFlatRepositoriesAndDisabledEntries() throws IOException {
    Files.writeString(root.resolve("etc/apt/sources.list.d/debian.sources"), """
        Types: deb deb-src
        URIs: http://mirror.example/debian
        Suites: bookworm bookworm-updates
        Components: main contrib
        Signed-By: /usr/share/keyrings/archive.asc

        # a flat repository
        Types: deb
        URIs: https://pkgs.example/core:/stable:/v1.34/deb/
        Suites: /
        Signed-By: /usr/share/keyrings/archive.asc

        Types: deb
        Enabled: no
        URIs: http://disabled.example/debian
        Suites: bookworm
        Components: main
        Signed-By: /usr/share/keyrings/archive.asc

        Types: deb
        URIs: http://arm.example/debian
        Suites: bookworm
        Components: main
        Architectures: arm64
        Signed-By: /usr/share/keyrings/archive.asc
        """);
    List<AptRepository> r = read();
    assertEquals(List.of("http://mirror.example/debian bookworm", "http://mirror.example/debian bookworm-updates",
        "https://pkgs.example/core:/stable:/v1.34/deb/ /"), r.stream().map(AptRepository::name).toList());
    assertEquals(List.of("main", "contrib"), r.get(0).components());
    assertEquals("http://mirror.example/debian/dists/bookworm/", r.get(0).releaseBase());
    assertTrue(r.get(2).flat());
    assertEquals("https://pkgs.example/core:/stable:/v1.34/deb/", r.get(2).releaseBase());
    assertEquals("https://pkgs.example/core:/stable:/v1.34/deb/", r.get(2).packageBase());
  }

  @Test
  void oneLineFormWithOptionsAndInlineKeys() throws IOException {
    Files.writeString(root.resolve("etc/apt/sources.list"), """
        # comment
        deb [arch=amd64 signed-by=/usr/share/keyrings/archive.asc] http://mirror.example/ubuntu noble main universe
        deb-src http://mirror.example/ubuntu noble main
        deb [arch=arm64 signed-by=/usr/share/keyrings/archive.asc] http://ports.example/ubuntu noble main
        """);
    String inline = new String(key, java.nio.charset.StandardCharsets.UTF_8).lines()
        .map(l -> " " + (l.isEmpty() ? "." : l)).reduce("", (a, b) -> a + b + "\n");
    Files.writeString(root.resolve("etc/apt/sources.list.d/docker.sources"), "Types: deb\nURIs: https://docker.example/linux/debian\n"
        + "Suites: bookworm\nComponents: stable\nSigned-By:\n" + inline);
    List<AptRepository> r = read();
    assertEquals(List.of("http://mirror.example/ubuntu noble", "https://docker.example/linux/debian bookworm"),
        r.stream().map(AptRepository::name).toList());
    assertEquals(List.of("main", "universe"), r.get(0).components());
    assertEquals(Signatures.fingerprints(Signatures.keyring(key)), Signatures.fingerprints(r.get(1).keys()),
        "the inline key block is the key");
  }

  @Test
  void unsignedSourcesAndMissingKeysAreRefused() throws IOException {
    Files.writeString(root.resolve("etc/apt/sources.list"),
        "deb [trusted=yes] http://mirror.example/debian bookworm main\n");
    IOException e = assertThrows(IOException.class, this::read);
    assertTrue(e.getMessage().contains("trusted=yes"), e.getMessage());
    Files.writeString(root.resolve("etc/apt/sources.list"),
        "deb [signed-by=/usr/share/keyrings/missing.gpg] http://mirror.example/debian bookworm main\n");
    e = assertThrows(IOException.class, this::read);
    assertTrue(e.getMessage().contains("/usr/share/keyrings/missing.gpg does not exist in the image"), e.getMessage());
  }

  @Test
  void withoutSignedByTheTrustedKeyringsApply() throws IOException {
    Files.createDirectories(root.resolve("etc/apt/trusted.gpg.d"));
    Files.write(root.resolve("etc/apt/trusted.gpg.d/debian.asc"), key);
    Files.writeString(root.resolve("etc/apt/sources.list"), "deb http://mirror.example/debian bookworm main\n");
    assertEquals(1, Signatures.fingerprints(read().get(0).keys()).size());
  }
}
