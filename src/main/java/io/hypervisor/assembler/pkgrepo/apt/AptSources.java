package io.hypervisor.assembler.pkgrepo.apt;

import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.Signatures;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;

/**
 * The base image's own apt sources, read from its files: {@code /etc/apt/sources.list} and
 * {@code sources.list.d/*.list} (one-line form with {@code [arch=… signed-by=…]}) and
 * {@code *.sources} (deb822, several URIs and suites per entry, {@code Enabled: no}). Keys come
 * from {@code Signed-By} (a keyring path or an inline key block) or else apt's trusted.gpg(.d).
 * Unsigned ({@code trusted=yes}) sources are refused: nothing unverified reaches the image.
 */
public final class AptSources {
  private AptSources() {}

  public static List<AptRepository> read(ImageFiles image, String arch) throws IOException {
    List<AptRepository> out = new ArrayList<>();
    byte[] main = image.read("/etc/apt/sources.list");
    if (main != null) {
      oneLine("/etc/apt/sources.list", new String(main, StandardCharsets.UTF_8), image, arch, out);
    }
    for (String f : image.list("/etc/apt/sources.list.d")) {
      String path = "/etc/apt/sources.list.d/" + f;
      byte[] b = image.read(path);
      if (b == null) {
        continue;
      }
      if (f.endsWith(".list")) {
        oneLine(path, new String(b, StandardCharsets.UTF_8), image, arch, out);
      } else if (f.endsWith(".sources")) {
        deb822(path, new String(b, StandardCharsets.UTF_8), image, arch, out);
      }
    }
    return out;
  }

  static void oneLine(String path, String text, ImageFiles image, String arch, List<AptRepository> out)
      throws IOException {
    int n = 0;
    for (String raw : text.split("\n")) {
      n++;
      String line = raw.replaceFirst("#.*$", "").trim();
      if (line.isEmpty()) {
        continue;
      }
      String options = "";
      if (line.matches("^\\S+\\s+\\[.*")) {
        int open = line.indexOf('[');
        int close = line.indexOf(']');
        options = line.substring(open + 1, close);
        line = line.substring(0, open) + line.substring(close + 1);
      }
      String[] f = line.trim().split("\\s+");
      if (!f[0].equals("deb")) {
        continue;
      }
      if (f.length < 3) {
        throw new IOException(path + ":" + n + ": malformed source line \"" + raw.trim() + "\"");
      }
      String signedBy = null;
      List<String> arches = List.of(arch);
      for (String o : options.trim().split("\\s+")) {
        int eq = o.indexOf('=');
        if (eq < 0) {
          continue;
        }
        String k = o.substring(0, eq);
        String v = o.substring(eq + 1);
        switch (k) {
          case "signed-by" -> signedBy = v;
          case "arch" -> arches = Arrays.asList(v.split(","));
          case "trusted" -> refuseTrusted(path, v);
          default -> { }
        }
      }
      List<String> comps = f.length > 3 ? List.of(f).subList(3, f.length) : List.of();
      if (!arches.contains(arch)) {
        continue;
      }
      out.add(new AptRepository(f[1] + " " + f[2], f[1], f[2], comps, List.of(arch), keys(signedBy, image, path),
          "image " + path));
    }
  }

  static void deb822(String path, String text, ImageFiles image, String arch, List<AptRepository> out) throws IOException {
    Stanzas s = new Stanzas(new BufferedReader(new StringReader(text)), null);
    for (Map<String, String> m = s.next(); m != null; m = s.next()) {
      if ("no".equalsIgnoreCase(m.getOrDefault("enabled", "yes").trim())
          || !Arrays.asList(m.getOrDefault("types", "").trim().split("\\s+")).contains("deb")) {
        continue;
      }
      if (m.containsKey("trusted")) {
        refuseTrusted(path, m.get("trusted").trim());
      }
      List<String> arches = m.containsKey("architectures") ? Arrays.asList(m.get("architectures").trim().split("\\s+"))
          : List.of(arch);
      if (!arches.contains(arch)) {
        continue;
      }
      List<String> comps = m.containsKey("components") ? Arrays.asList(m.get("components").trim().split("\\s+"))
          : List.of();
      PGPPublicKeyRingCollection keys = keys(m.get("signed-by"), image, path);
      for (String uri : m.getOrDefault("uris", "").trim().split("\\s+")) {
        for (String suite : m.getOrDefault("suites", "").trim().split("\\s+")) {
          if (uri.isEmpty() || suite.isEmpty()) {
            throw new IOException(path + ": an entry without URIs or Suites");
          }
          out.add(new AptRepository(uri + " " + suite, uri, suite, comps, List.of(arch), keys, "image " + path));
        }
      }
    }
  }

  private static void refuseTrusted(String path, String v) throws IOException {
    if (v.equals("yes")) {
      throw new IOException(path + " marks a source trusted=yes (unsigned); the assembler only installs from "
          + "signed repositories");
    }
  }

  /** Keys named by Signed-By (a path, or an inline key block), else apt's trusted keyrings. */
  static PGPPublicKeyRingCollection keys(String signedBy, ImageFiles image, String path) throws IOException {
    List<PGPPublicKeyRing> rings = new ArrayList<>();
    if (signedBy != null && signedBy.contains("BEGIN PGP PUBLIC KEY BLOCK")) {
      String block = signedBy.lines().map(l -> l.equals(".") ? "" : l).reduce("", (a, b) -> a + b + "\n");
      add(rings, Signatures.keyring(block.getBytes(StandardCharsets.UTF_8)));
    } else if (signedBy != null) {
      for (String p : signedBy.trim().split("[,\\s]+")) {
        if (p.matches("[0-9A-Fa-f]{16,40}!?")) {
          throw new IOException(path + ": Signed-By by fingerprint is not supported; name a keyring file");
        }
        byte[] k = image.read(p);
        if (k == null) {
          throw new IOException(path + ": Signed-By keyring " + p + " does not exist in the image");
        }
        add(rings, Signatures.keyring(k));
      }
    } else {
      byte[] legacy = image.read("/etc/apt/trusted.gpg");
      if (legacy != null) {
        add(rings, Signatures.keyring(legacy));
      }
      for (String f : image.list("/etc/apt/trusted.gpg.d")) {
        if (f.endsWith(".gpg") || f.endsWith(".asc")) {
          add(rings, Signatures.keyring(image.read("/etc/apt/trusted.gpg.d/" + f)));
        }
      }
    }
    if (rings.isEmpty()) {
      throw new IOException(path + ": no keys to verify this source with (no Signed-By, no trusted.gpg.d)");
    }
    return new PGPPublicKeyRingCollection(rings);
  }

  private static void add(List<PGPPublicKeyRing> rings, PGPPublicKeyRingCollection c) {
    c.getKeyRings().forEachRemaining(rings::add);
  }
}
