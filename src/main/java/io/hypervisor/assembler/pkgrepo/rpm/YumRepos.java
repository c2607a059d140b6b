package io.hypervisor.assembler.pkgrepo.rpm;

import io.hypervisor.assembler.pkgrepo.ImageFiles;
import io.hypervisor.assembler.pkgrepo.Signatures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.bouncycastle.openpgp.PGPPublicKeyRing;
import org.bouncycastle.openpgp.PGPPublicKeyRingCollection;

/**
 * The base image's own enabled repositories from {@code /etc/yum.repos.d/*.repo}, with dnf's
 * variables substituted ({@code $releasever}, {@code $basearch}, {@code $arch}, and those in
 * {@code /etc/dnf/vars} and {@code /etc/yum/vars}). Keys come from {@code gpgkey=file://…} in
 * the image; a repository with {@code gpgcheck=0} or only remote keys is refused, since nothing
 * unverified may reach the image.
 */
public final class YumRepos {
  private YumRepos() {}

  public static List<RpmRepository> read(ImageFiles image, String basearch) throws IOException {
    Map<String, String> vars = variables(image, basearch);
    List<RpmRepository> out = new ArrayList<>();
    for (String f : image.list("/etc/yum.repos.d")) {
      if (!f.endsWith(".repo")) {
        continue;
      }
      String path = "/etc/yum.repos.d/" + f;
      byte[] b = image.read(path);
      if (b == null) {
        continue;
      }
      for (Map.Entry<String, Map<String, String>> sec : ini(new String(b, StandardCharsets.UTF_8)).entrySet()) {
        Map<String, String> m = sec.getValue();
        if (!truthy(m.getOrDefault("enabled", "1"))) {
          continue;
        }
        String id = sec.getKey();
        String where = path + " [" + id + "]";
        if (!truthy(m.getOrDefault("gpgcheck", "1"))) {
          throw new IOException(where + " sets gpgcheck=0; the assembler installs only signed packages "
              + "(enable gpgcheck or disable the repository)");
        }
        List<String> baseUrls = new ArrayList<>();
        for (String u : m.getOrDefault("baseurl", "").split("[\\s,]+")) {
          if (!u.isBlank()) {
            baseUrls.add(substitute(u, vars));
          }
        }
        String mirrorList = m.containsKey("metalink") ? substitute(m.get("metalink"), vars)
            : m.containsKey("mirrorlist") ? substitute(m.get("mirrorlist"), vars) : null;
        if (baseUrls.isEmpty() && mirrorList == null) {
          throw new IOException(where + " has no baseurl, mirrorlist or metalink");
        }
        out.add(new RpmRepository(id, baseUrls, mirrorList, keys(m.get("gpgkey"), image, where, vars),
            truthy(m.getOrDefault("repo_gpgcheck", "0")) ? RpmRepository.MetadataSignature.REQUIRED
                : RpmRepository.MetadataSignature.OFF, "image " + path));
      }
    }
    return out;
  }

  static boolean truthy(String v) {
    String s = v.trim().toLowerCase(Locale.ROOT);
    return s.equals("1") || s.equals("yes") || s.equals("true") || s.equals("on");
  }

  /** dnf's variables: releasever from dnf/vars or os-release (the major version on RHEL-like systems). */
  static Map<String, String> variables(ImageFiles image, String basearch) throws IOException {
    Map<String, String> vars = new HashMap<>();
    vars.put("basearch", basearch);
    vars.put("arch", basearch);
    byte[] osr = image.read("/etc/os-release");
    if (osr != null) {
      Map<String, String> os = io.hypervisor.assembler.model.Distro.osReleaseFields(new String(osr,
          StandardCharsets.UTF_8));
      String v = os.getOrDefault("VERSION_ID", "");
      boolean rhelLike = (" " + os.getOrDefault("ID", "") + " " + os.getOrDefault("ID_LIKE", "") + " ")
          .matches(".*\\s(rhel|centos)\\s.*");
      vars.put("releasever", rhelLike ? v.replaceFirst("\\..*", "") : v);
      vars.put("releasever_major", v.replaceFirst("\\..*", ""));
    }
    for (String dir : List.of("/etc/yum/vars", "/etc/dnf/vars")) {
      for (String f : image.list(dir)) {
        byte[] b = image.read(dir + "/" + f);
        if (b != null) {
          vars.put(f, new String(b, StandardCharsets.UTF_8).trim());
        }
      }
    }
    return vars;
  }

  static String substitute(String s, Map<String, String> vars) {
    StringBuilder out = new StringBuilder();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\$\\{?([A-Za-z0-9_]+)\\}?").matcher(s);
    while (m.find()) {
      String v = vars.get(m.group(1));
      m.appendReplacement(out, java.util.regex.Matcher.quoteReplacement(v == null ? m.group() : v));
    }
    m.appendTail(out);
    return out.toString();
  }

  /** A minimal INI reader: sections, key=value, comments, continuation lines (indented). */
  static Map<String, Map<String, String>> ini(String text) {
    Map<String, Map<String, String>> out = new LinkedHashMap<>();
    Map<String, String> cur = null;
    String last = null;
    for (String raw : text.split("\n")) {
      String line = raw.replace("\r", "");
      String t = line.trim();
      if (t.isEmpty() || t.startsWith("#") || t.startsWith(";")) {
        continue;
      }
      if (t.startsWith("[") && t.endsWith("]")) {
        cur = new LinkedHashMap<>();
        out.put(t.substring(1, t.length() - 1).trim(), cur);
        last = null;
      } else if (cur != null && Character.isWhitespace(line.charAt(0)) && last != null) {
        cur.put(last, cur.get(last) + "\n" + t);
      } else if (cur != null && t.indexOf('=') > 0) {
        last = t.substring(0, t.indexOf('=')).trim().toLowerCase(Locale.ROOT);
        cur.put(last, t.substring(t.indexOf('=') + 1).trim());
      }
    }
    return out;
  }

  static PGPPublicKeyRingCollection keys(String gpgkey, ImageFiles image, String where, Map<String, String> vars)
      throws IOException {
    if (gpgkey == null || gpgkey.isBlank()) {
      throw new IOException(where + " names no gpgkey to verify its packages with");
    }
    List<PGPPublicKeyRing> rings = new ArrayList<>();
    for (String k : gpgkey.split("[\\s,]+")) {
      if (k.isBlank()) {
        continue;
      }
      String u = substitute(k, vars);
      if (!u.startsWith("file://")) {
        throw new IOException(where + " takes its key from " + u + ", which cannot be trusted without a pin; "
            + "put the key in the image or declare the repository in the recipe with a key fingerprint");
      }
      byte[] b = image.read(u.substring("file://".length()));
      if (b == null) {
        throw new IOException(where + ": key " + u + " does not exist in the image");
      }
      Signatures.keyring(b).getKeyRings().forEachRemaining(rings::add);
    }
    return new PGPPublicKeyRingCollection(rings);
  }
}
