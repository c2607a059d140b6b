package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.ImageTools;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Platform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Option values shared by several verbs, parsed with input errors (exit 2). */
final class Options {
  private Options() {}

  /** An OpenPGP secret key given with --sign-key (fetch, publish, the main job), read with its size bounded. */
  static byte[] signingKey(Path file) {
    try {
      return io.hypervisor.assembler.model.SmallFiles.read(file, io.hypervisor.assembler.model.SmallFiles.KEY,
          "signing key");
    } catch (java.io.IOException e) {
      throw AssemblerException.input("cannot read the signing key " + file + ": " + e.getMessage(),
          "give an exported secret key: gpg --export-secret-keys --armor KEYID > key.asc");
    }
  }

  static Platform platform(String s) {
    try {
      return Platform.parse(s);
    } catch (IllegalArgumentException e) {
      throw AssemblerException.input(e.getMessage(), "e.g. --platform linux/amd64,linux/arm64");
    }
  }

  static ImageTools.Access access(Path hostsDir, List<String> mirrors) {
    Map<String, List<String>> m = new LinkedHashMap<>();
    for (String s : mirrors) {
      int eq = s.indexOf('=');
      if (eq <= 0 || !s.substring(eq + 1).matches("https?://\\S+")) {
        throw AssemblerException.input("malformed --mirror \"" + s + "\"", "use --mirror REGISTRY=URL, "
            + "e.g. --mirror registry.k8s.io=https://mirror.site:5000");
      }
      m.computeIfAbsent(s.substring(0, eq), k -> new ArrayList<>()).add(s.substring(eq + 1));
    }
    Path dir = hostsDir;
    if (dir == null && Files.isDirectory(Path.of("/etc/containerd/certs.d"))) {
      dir = Path.of("/etc/containerd/certs.d");
    }
    return ImageTools.Access.of(dir, m);
  }
}
