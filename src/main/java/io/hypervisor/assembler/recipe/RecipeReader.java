package io.hypervisor.assembler.recipe;

import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Distro;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.OsFamily;
import io.hypervisor.assembler.model.PackageRef;
import io.hypervisor.assembler.model.Position;
import io.hypervisor.assembler.model.Problem;
import io.hypervisor.assembler.model.SmallFiles;
import io.hypervisor.assembler.recipe.Recipe.Role;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a recipe: the file, the files it {@code extends:} (deep-merged, the extending file wins),
 * then the environment overrides, then {@code --set path=value}. Every problem is collected; if
 * any is an error the read fails with all of them (exit 2), otherwise warnings come back with the
 * recipe.
 */
public final class RecipeReader {
  /** Environment variables that override platform image settings (the platform's contract). */
  public static final Map<String, String> ENVIRONMENT_OVERRIDES = Map.of(
      "CCM_REGISTRY", "platform.ccm.registry",
      "CCM_VERSION", "platform.ccm.tag",
      "AUTOSCALER_REGISTRY", "platform.autoscaler.registry",
      "AUTOSCALER_VERSION", "platform.autoscaler.tag");

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,127}");
  /** A Kubernetes patch version; the digits are bounded so every part fits an int. */
  private static final Pattern PATCH = Pattern.compile("v?([0-9]{1,6})\\.([0-9]{1,6})\\.([0-9]{1,6})");
  private static final Pattern MINOR = Pattern.compile("v?([0-9]+)\\.([0-9]+)");
  private static final Pattern SIZE = Pattern.compile("([0-9]+)\\s*([KMGT]?)(i?B?)?", Pattern.CASE_INSENSITIVE);
  private static final Pattern SET_KEY = Pattern.compile("[A-Za-z][A-Za-z0-9_-]*");
  private static final Pattern FINGERPRINT = Pattern.compile("[0-9A-F]{40}|[0-9A-F]{64}");
  private static final Pattern MODULE = Pattern.compile("[A-Za-z0-9_-]+");
  private static final Pattern SYSCTL = Pattern.compile("[a-z0-9_]+(?:[./][A-Za-z0-9_-]+)+");
  private static final Set<String> BUILTIN_REPOSITORIES = Set.of("kubernetes", "docker");

  /** A recipe and the warnings found while reading it. */
  public record Result(Recipe recipe, List<Problem> warnings) {}

  private final Map<String, String> environment;
  private final List<String> sets;

  /** A reader applying the given environment (usually System.getenv()) and --set overrides. */
  public RecipeReader(Map<String, String> environment, List<String> sets) {
    this.environment = Map.copyOf(environment);
    this.sets = List.copyOf(sets);
  }

  /** A reader with no overrides. */
  public RecipeReader() {
    this(Map.of(), List.of());
  }

  /** Reads and validates; throws {@link AssemblerException} (INPUT) listing every error. */
  public Result read(Path file) {
    List<Problem> problems = new ArrayList<>();
    List<Path> sources = new ArrayList<>();
    Node root = load(file, problems, sources, new LinkedHashSet<>(), null);
    return finish(root, problems, sources, file.toString());
  }

  /**
   * Reads a recipe given as text (e.g. composed by a command from its options), with the same
   * overrides and validation as a file.
   */
  public Result readText(String yaml, String source) {
    List<Problem> problems = new ArrayList<>();
    Node root = YamlTree.parse(new java.io.StringReader(yaml), source, problems);
    return finish(root, problems, List.of(), source);
  }

  private Result finish(Node root, List<Problem> problems, List<Path> sources, String file) {
    Recipe recipe = null;
    if (root instanceof Node.MapNode map) {
      map = applyEnvironment(map, problems);
      map = applySets(map, problems);
      recipe = bind(map, problems, sources);
    } else if (root != null) {
      problems.add(Problem.error("", root.position(), "a recipe must be a YAML mapping",
          "start with apiVersion: " + Recipe.API_VERSION));
    }
    List<Problem> errors = problems.stream().filter(Problem::isError).toList();
    if (!errors.isEmpty() || recipe == null) {
      throw AssemblerException.input("recipe " + file + " is invalid (" + errors.size()
          + (errors.size() == 1 ? " problem)" : " problems)"), problems);
    }
    return new Result(recipe, problems.stream().filter(p -> !p.isError()).toList());
  }

  private Node load(Path file, List<Problem> problems, List<Path> sources, Set<Path> chain,
      Position from) {
    Path abs = file.toAbsolutePath().normalize();
    if (!chain.add(abs)) {
      problems.add(Problem.error("extends", from, "extends cycle: " + chain + " -> " + abs,
          "a recipe may not extend itself, directly or indirectly"));
      return null;
    }
    String source = file.normalize().toString();
    Node node;
    try {
      String text = SmallFiles.readString(file, SmallFiles.RECIPE, from == null ? "recipe file" : "extended file");
      node = YamlTree.parse(new java.io.StringReader(text), source, problems);
    } catch (NoSuchFileException e) {
      problems.add(Problem.error(from == null ? "" : "extends", from,
          "recipe file " + file + " does not exist", null));
      return null;
    } catch (SmallFiles.Refused e) {
      problems.add(Problem.error(from == null ? "" : "extends", from, e.getMessage(),
          "give the path of a recipe (YAML, at most " + (SmallFiles.RECIPE >> 20) + " MiB)"));
      return null;
    } catch (IOException e) {
      problems.add(Problem.error(from == null ? "" : "extends", from, "cannot read recipe file " + file + ": "
          + e.getMessage(), null));
      return null;
    }
    sources.add(file.normalize());
    if (!(node instanceof Node.MapNode map)) {
      return node;
    }
    Node.Entry ext = map.entries().get("extends");
    if (ext == null) {
      return map;
    }
    if (!(ext.value() instanceof Node.ScalarNode s) || s.text() == null) {
      problems.add(Problem.error("extends", ext.value().position(),
          "expected the path of a defaults file", "e.g. extends: shared/site-defaults.yaml"));
      return map;
    }
    Path parentFile = Fields.resolve(s.text(), ext.value().position());
    List<Problem> parentProblems = new ArrayList<>();
    Node parent = load(parentFile, parentProblems, sources, chain, ext.value().position());
    Node.Entry pk = parent instanceof Node.MapNode pm ? pm.entries().get("kind") : null;
    boolean readButNotYaml = parent == null && Files.isRegularFile(parentFile)
        && parentProblems.stream().anyMatch(p -> p.message().startsWith("not valid YAML"));
    if (readButNotYaml || parent != null && (pk == null || !(pk.value() instanceof Node.ScalarNode k)
        || !Recipe.DEFAULTS_KIND.equals(k.text()))) {
      // Not a defaults file: say so, and nothing else about it. Its keys, values or syntax
      // errors would echo the content of whatever file was named (a password file, a key).
      problems.add(Problem.error("extends", ext.value().position(), parentFile + " is not a recipe defaults file "
          + "(it has no kind: " + Recipe.DEFAULTS_KIND + ")", "extend a file that starts with apiVersion: "
          + Recipe.API_VERSION + " and kind: " + Recipe.DEFAULTS_KIND));
      return map;
    }
    problems.addAll(parentProblems);
    if (parent instanceof Node.MapNode pm) {
      return merge(pm, map);
    }
    return map;
  }

  /** Deep merge: mappings merge key by key, anything else in {@code over} replaces. */
  static Node.MapNode merge(Node.MapNode under, Node.MapNode over) {
    Map<String, Node.Entry> out = new LinkedHashMap<>(under.entries());
    out.remove("extends");
    for (Node.Entry e : over.entries().values()) {
      Node.Entry old = out.get(e.key());
      if (old != null && old.value() instanceof Node.MapNode om
          && e.value() instanceof Node.MapNode nm && !e.key().equals("kind")) {
        out.put(e.key(), new Node.Entry(e.key(), e.keyPosition(), merge(om, nm)));
      } else {
        out.put(e.key(), e);
      }
    }
    return new Node.MapNode(over.position(), out);
  }

  private Node.MapNode applyEnvironment(Node.MapNode root, List<Problem> problems) {
    for (var e : new java.util.TreeMap<>(ENVIRONMENT_OVERRIDES).entrySet()) {
      String value = environment.get(e.getKey());
      if (value != null && !value.isBlank()) {
        root = setPath(root, e.getValue().split("\\."),
            new Node.ScalarNode(Position.of("environment " + e.getKey()), value.trim()));
      }
    }
    return root;
  }

  /** How deep a --set path may go: recipes are a few levels deep, and the walk recurses per key. */
  static final int MAX_SET_DEPTH = 16;

  private Node.MapNode applySets(Node.MapNode root, List<Problem> problems) {
    for (String s : sets) {
      // Split by hand, not with one regex over the whole path: a regex repeating a group per key
      // recurses per key, and a path of thousands of keys overflows the stack.
      int eq = s.indexOf('=');
      String path = eq < 0 ? s : s.substring(0, eq);
      String[] keys = path.split("\\.", -1);
      if (keys.length > MAX_SET_DEPTH) {
        problems.add(Problem.error("", Position.of("--set"), "the override path has " + keys.length
            + " keys; a recipe is at most " + MAX_SET_DEPTH + " deep", "use --set path.to.key=value"));
        continue;
      }
      if (eq < 0 || java.util.Arrays.stream(keys).anyMatch(k -> !SET_KEY.matcher(k).matches())) {
        String shown = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        problems.add(Problem.error("", Position.of("--set " + shown), "malformed override \"" + shown + "\"",
            "use --set path.to.key=value, e.g. --set kubernetes.version=1.34.3"));
        continue;
      }
      String text = s.substring(eq + 1);
      String source = "--set " + path;
      Node value = text.isEmpty() ? new Node.ScalarNode(Position.of(source), "")
          : YamlTree.parseValue(text, source, problems);
      if (value != null) {
        root = setPath(root, keys, relocate(value, Position.of(source)));
      }
    }
    return root;
  }

  /** Values from the command line all point at the --set that gave them. */
  private static Node relocate(Node n, Position p) {
    if (n instanceof Node.ScalarNode s) {
      return new Node.ScalarNode(p, s.text());
    }
    if (n instanceof Node.ListNode l) {
      return new Node.ListNode(p, l.items().stream().map(i -> relocate(i, p)).toList());
    }
    Map<String, Node.Entry> m = new LinkedHashMap<>();
    ((Node.MapNode) n).entries().forEach((k, e) -> m.put(k, new Node.Entry(k, p, relocate(e.value(), p))));
    return new Node.MapNode(p, m);
  }

  static Node.MapNode setPath(Node.MapNode root, String[] keys, Node value) {
    return setPath(root, keys, 0, value);
  }

  private static Node.MapNode setPath(Node.MapNode map, String[] keys, int i, Node value) {
    Map<String, Node.Entry> out = new LinkedHashMap<>(map.entries());
    Node.Entry old = out.get(keys[i]);
    Node next;
    if (i == keys.length - 1) {
      next = value;
    } else {
      Node.MapNode child = old != null && old.value() instanceof Node.MapNode m ? m
          : new Node.MapNode(value.position(), Map.of());
      next = setPath(child, keys, i + 1, value);
    }
    out.put(keys[i], new Node.Entry(keys[i], value.position(), next));
    return new Node.MapNode(map.position(), out);
  }

  // ---------------------------------------------------------------------------------------------
  // Binding: one method per section; each asks for its keys, so unknown keys are found by finish().

  private Recipe bind(Node.MapNode root, List<Problem> problems, List<Path> sources) {
    Map<String, Position> positions = new LinkedHashMap<>();
    Fields f = new Fields(root, "", problems, positions);
    String apiVersion = f.requiredString("apiVersion", "use apiVersion: " + Recipe.API_VERSION);
    if (apiVersion != null && !apiVersion.equals(Recipe.API_VERSION)) {
      f.error("apiVersion", "unsupported apiVersion \"" + apiVersion + "\"",
          "this assembler reads " + Recipe.API_VERSION);
    }
    String kind = f.requiredString("kind", "use kind: " + Recipe.KIND);
    if (Recipe.DEFAULTS_KIND.equals(kind)) {
      f.error("kind", "this is a defaults file (kind " + Recipe.DEFAULTS_KIND + "), not a recipe",
          "build a recipe that extends it: extends: <this file>");
    } else if (kind != null && !kind.equals(Recipe.KIND)) {
      f.error("kind", "unsupported kind \"" + kind + "\"", "use kind: " + Recipe.KIND);
    }
    f.node("extends");
    String name = f.string("name");
    if (name != null && !NAME.matcher(name).matches()) {
      f.error("name", "\"" + name + "\" is not a valid image tag",
          "lower-case letters, digits, '.', '_' and '-', e.g. hks-worker-1.34.2");
    }
    Recipe.Base base = base(required(f, "base", "a recipe names its base cloud image"));
    Recipe.Kubernetes kubernetes = kubernetes(required(f, "kubernetes",
        "e.g. kubernetes: {version: 1.34.2, role: worker}"));
    Recipe.Containerd containerd = containerd(f.map("containerd"));
    Recipe.PlatformImages platform = platform(f.map("platform"));
    Recipe.Images images = images(f);
    List<PackageRef> packages = f.scalars("packages", PackageRef::parse,
        "a package name, optionally name=version");
    List<Recipe.Repository> repositories = f.list("repositories",
        (item, path) -> repository(item, path, problems, positions));
    Map<String, String> sysctl = f.stringMap("sysctl");
    sysctl.keySet().stream().filter(k -> !SYSCTL.matcher(k).matches()).forEach(k ->
        problems.add(Problem.error("sysctl." + k, positions.get("sysctl." + k),
            "\"" + k + "\" is not a sysctl key", "e.g. net.ipv4.ip_forward")));
    List<String> modules = f.scalars("modules", m -> {
      if (!MODULE.matcher(m).matches()) {
        throw new IllegalArgumentException("\"" + m + "\" is not a kernel module name");
      }
      return m;
    }, "e.g. overlay, br_netfilter, ip_vs");
    Map<String, List<Recipe.Mirror>> mirrors = mirrors(f, problems, positions);
    Recipe.Disk disk = disk(f);
    Recipe.Output output = output(f.map("output"));
    Recipe.Catalogue catalogue = catalogue(f.map("catalogue"));
    f.finish();
    if (base == null || kubernetes == null) {
      return null;
    }
    return new Recipe(apiVersion, name, base, kubernetes, containerd, platform, images, packages,
        repositories, sysctl, modules, mirrors, disk, output, catalogue, positions, sources);
  }

  private static Fields required(Fields f, String key, String hint) {
    Fields m = f.map(key);
    if (m == null && !f.has(key)) {
      f.problems().add(Problem.error(key, f.position(), "missing required section \"" + key + "\"",
          hint));
    }
    return m;
  }

  private static Recipe.Base base(Fields f) {
    if (f == null) {
      return null;
    }
    String url = f.string("url");
    Path path = f.file("path");
    if ((url == null) == (path == null)) {
      f.error(url == null ? "url" : "path", "give exactly one of base.url and base.path",
          "url for a download (verified), path for a local qcow2");
    }
    if (url != null && !url.matches("https?://\\S+")) {
      f.error("url", "\"" + url + "\" is not an http(s) URL", null);
    }
    String sha256 = f.string("sha256");
    if (sha256 != null) {
      sha256 = sha256.toLowerCase(Locale.ROOT);
      if (!sha256.matches("[0-9a-f]{64}")) {
        f.error("sha256", "not a sha256 (64 hex characters)", null);
      }
    }
    Recipe.Checksums checksums = checksums(f.map("checksums"));
    if (url != null && sha256 == null && checksums == null) {
      f.error("url", "a downloaded base image needs base.sha256 or base.checksums",
          "nothing unverified reaches the image; pin its sha256 or name a signed SHA256SUMS/SHA512SUMS");
    }
    if (sha256 != null && checksums != null) {
      f.error("checksums", "give base.sha256 or base.checksums, not both", null);
    }
    Distro os = null;
    String osText = f.requiredString("os", "the expected distribution, e.g. os: debian-12");
    if (osText != null) {
      try {
        os = Distro.parse(osText);
        if (!os.supported()) {
          f.error("os", os.supportProblem(), "supported: " + Distro.supportedList());
        }
      } catch (IllegalArgumentException e) {
        f.error("os", e.getMessage(), "supported: " + Distro.supportedList());
      }
    }
    String arch = f.choice("arch", Map.of("amd64", "amd64", "x86_64", "amd64", "arm64", "arm64",
        "aarch64", "arm64"));
    f.finish();
    return new Recipe.Base(url, path, sha256, checksums, os, arch);
  }

  private static Recipe.Checksums checksums(Fields f) {
    if (f == null) {
      return null;
    }
    String url = f.requiredString("url", "the SHA256SUMS or SHA512SUMS file next to the image");
    String sig = f.string("signature");
    Recipe.Key key = key(f.map("key"));
    if (sig != null && key == null) {
      f.error("signature", "a signed checksum file needs base.checksums.key with a pinned fingerprint",
          null);
    }
    f.finish();
    return new Recipe.Checksums(url, sig, key);
  }

  private static Recipe.Key key(Fields f) {
    if (f == null) {
      return null;
    }
    String url = f.string("url");
    Path path = f.file("path");
    if (url != null && path != null) {
      f.error("path", "give key.url or key.path, not both", null);
    }
    String fp = f.requiredString("fingerprint",
        "pin the key: fingerprint: <40 hex digits, as gpg --show-keys prints>");
    if (fp != null) {
      fp = fp.replace(" ", "").toUpperCase(Locale.ROOT);
      if (!FINGERPRINT.matcher(fp).matches()) {
        f.error("fingerprint", "not an OpenPGP fingerprint (40 or 64 hex digits)", null);
      }
    }
    f.finish();
    return new Recipe.Key(url, path, fp);
  }

  private static Recipe.Kubernetes kubernetes(Fields f) {
    if (f == null) {
      return null;
    }
    String version = f.requiredString("version", "a patch release, e.g. version: 1.34.2");
    if (version != null) {
      Matcher patch = PATCH.matcher(version);
      Matcher minor = MINOR.matcher(version);
      if (patch.matches()) {
        version = patch.group(1) + "." + patch.group(2) + "." + patch.group(3);
      } else if (minor.matches()) {
        f.error("version", "\"" + version + "\" is not a patch version; expected e.g. "
            + minor.group(1) + "." + minor.group(2) + ".2",
            "images and packages are pinned per patch release; name one, e.g. "
                + minor.group(1) + "." + minor.group(2) + ".2");
        version = null;
      } else {
        f.error("version", "\"" + version + "\" is not a Kubernetes version", "e.g. 1.34.2");
        version = null;
      }
    }
    Role role = null;
    String r = f.requiredString("role", "control-plane, worker or combined");
    if (r != null) {
      role = switch (r) {
        case "control-plane", "controlplane", "cp" -> Role.CONTROL_PLANE;
        case "worker" -> Role.WORKER;
        case "combined" -> Role.COMBINED;
        default -> {
          f.error("role", "\"" + r + "\" is not a role",
              Suggest.hint(r, List.of("control-plane", "cp", "worker", "combined")));
          yield null;
        }
      };
    }
    Recipe.Cni cni = new Recipe.Cni("cilium", null);
    Node cniNode = f.node("cni");
    Map<String, String> cnis = Map.of("cilium", "cilium", "calico", "calico", "flannel", "flannel");
    if (cniNode instanceof Node.ScalarNode) {
      String name = f.choice("cni", cnis);
      cni = name == null ? cni : new Recipe.Cni(name, null);
    } else if (cniNode instanceof Node.MapNode) {
      Fields c = f.map("cni");
      String name = c.choice("name", cnis);
      String v = c.string("version");
      if (v != null && !v.matches("v?[0-9]+\\.[0-9]+\\.[0-9]+")) {
        c.error("version", "\"" + v + "\" is not a CNI release version", "e.g. 1.19.3");
        v = null;
      }
      c.finish();
      cni = new Recipe.Cni(name == null ? "cilium" : name, v == null ? null : v.replaceFirst("^v", ""));
    } else if (cniNode != null) {
      f.error("cni", "expected a CNI name or {name, version}", "e.g. cni: cilium");
    }
    f.finish();
    return version == null || role == null ? null : new Recipe.Kubernetes(version, role, cni);
  }

  private static Recipe.Containerd containerd(Fields f) {
    if (f == null) {
      return new Recipe.Containerd(Recipe.Containerd.Source.CONTAINERD_IO, null);
    }
    String s = f.choice("source", Map.of("containerd.io", "containerd.io", "docker", "containerd.io",
        "distro", "distro"));
    String v = f.string("version");
    if (v != null && !v.matches("[0-9]{1,4}\\.[0-9]{1,4}(\\.[0-9]{1,6})?")) {
      f.error("version", "\"" + v + "\" is not a containerd version line or release",
          "e.g. 2.2 or 2.2.1");
      v = null;
    }
    f.finish();
    return new Recipe.Containerd("distro".equals(s) ? Recipe.Containerd.Source.DISTRO
        : Recipe.Containerd.Source.CONTAINERD_IO, v);
  }

  private static Recipe.PlatformImages platform(Fields f) {
    if (f == null) {
      return new Recipe.PlatformImages(new Recipe.ComponentImage(null, null, null),
          new Recipe.ComponentImage(null, null, null));
    }
    Recipe.ComponentImage ccm = component(f.map("ccm"));
    Recipe.ComponentImage as = component(f.map("autoscaler"));
    f.finish();
    return new Recipe.PlatformImages(ccm, as);
  }

  private static Recipe.ComponentImage component(Fields f) {
    if (f == null) {
      return new Recipe.ComponentImage(null, null, null);
    }
    String registry = f.string("registry");
    String image = f.string("image");
    String tag = f.string("tag");
    String probe = (registry == null ? "example.org/x" : registry) + "/"
        + (image == null ? "x" : image) + ":" + (tag == null ? "x" : tag);
    try {
      ImageRef.parse(probe);
    } catch (IllegalArgumentException e) {
      f.error(registry != null ? "registry" : image != null ? "image" : "tag",
          "does not form a valid image reference (" + e.getMessage() + ")", null);
    }
    f.finish();
    return new Recipe.ComponentImage(registry, image, tag);
  }

  private static Recipe.Images images(Fields f) {
    Node n = f.node("images");
    if (n instanceof Node.ListNode) {
      return new Recipe.Images(f.scalars("images", ImageRef::parse, "e.g. docker.io/library/busybox:1.36"),
          List.of());
    }
    Fields m = f.map("images");
    if (m == null) {
      return new Recipe.Images(List.of(), List.of());
    }
    List<ImageRef> extra = m.scalars("extra", ImageRef::parse, "e.g. docker.io/library/busybox:1.36");
    List<Path> archives = m.list("archives", (item, path) -> {
      if (item instanceof Node.ScalarNode s && s.text() != null) {
        return Fields.resolve(s.text(), item.position());
      }
      m.problems().add(Problem.error(path, item.position(), "expected the path of an image archive",
          null));
      return null;
    });
    m.finish();
    return new Recipe.Images(extra, archives);
  }

  private static Recipe.Repository repository(Node item, String path, List<Problem> problems,
      Map<String, Position> positions) {
    if (!(item instanceof Node.MapNode map)) {
      problems.add(Problem.error(path, item.position(), "expected a repository mapping",
          "e.g. {name: extras, type: apt, url: …, suite: …, key: {url: …, fingerprint: …}}"));
      return null;
    }
    Fields f = new Fields(map, path, problems, positions);
    String name = f.requiredString("name", "a short name such as extras");
    boolean builtin = name != null && BUILTIN_REPOSITORIES.contains(name);
    OsFamily type = null;
    String t = f.choice("type", Map.of("apt", "apt", "deb", "apt", "rpm", "rpm", "dnf", "rpm", "yum", "rpm"));
    if (t != null) {
      type = t.equals("apt") ? OsFamily.APT : OsFamily.DNF;
    }
    String url = f.string("url");
    String suite = f.string("suite");
    List<String> components = f.scalars("components", s -> s, "e.g. main");
    Recipe.Key key = key(f.map("key"));
    String mirror = f.string("mirror");
    if (mirror != null && !mirror.matches("(https?|file)://\\S+")) {
      f.error("mirror", "\"" + mirror + "\" is not an http(s) or file URL", null);
    }
    if (builtin) {
      // A site mirror may be re-signed with the site's own key, hence key is allowed here.
      for (String k : List.of("type", "url", "suite", "components")) {
        if (f.has(k)) {
          f.error(k, "\"" + name + "\" is a built-in repository; only its mirror and key can be set",
              "use another name for an extra repository");
        }
      }
      if (mirror == null && key == null) {
        f.error("name", "a built-in repository entry needs a mirror (and optionally a key)",
            "e.g. mirror: http://mirror.site/k8s/");
      }
    } else if (name != null) {
      if (url == null) {
        f.error("url", "an extra repository needs a url", null);
      } else if (!url.matches("https?://\\S+")) {
        f.error("url", "\"" + url + "\" is not an http(s) URL", null);
      }
      if (type == null && !f.has("type")) {
        f.error("type", "an extra repository needs a type", "apt or rpm");
      }
      if (key == null) {
        f.error("key", "an extra repository needs a pinned key",
            "key: {url: …/Release.key, fingerprint: <40 hex digits>}");
      }
      if (type == OsFamily.APT && suite == null) {
        f.error("suite", "an apt repository needs a suite", "a codename such as bookworm, or / for a flat repository");
      }
    }
    f.finish();
    return name == null ? null : new Recipe.Repository(name, type, url, suite, components, key, mirror);
  }

  private static Map<String, List<Recipe.Mirror>> mirrors(Fields f, List<Problem> problems,
      Map<String, Position> positions) {
    Map<String, List<Recipe.Mirror>> out = new LinkedHashMap<>();
    for (Node.Entry e : f.entries("mirrors")) {
      String path = "mirrors." + e.key();
      positions.put(path, e.value().position());
      if (!e.key().equals("_default")) {
        try {
          ImageRef.parse(e.key() + "/probe:x");
        } catch (IllegalArgumentException ex) {
          problems.add(Problem.error(path, e.keyPosition(), "\"" + e.key() + "\" is not a registry host",
              "e.g. registry.k8s.io, docker.io, or _default"));
          continue;
        }
      }
      List<Node> items = e.value() instanceof Node.ListNode l ? l.items() : List.of(e.value());
      List<Recipe.Mirror> list = new ArrayList<>();
      for (int i = 0; i < items.size(); i++) {
        Recipe.Mirror m = mirror(items.get(i), path + "[" + i + "]", problems, positions);
        if (m != null) {
          list.add(m);
        }
      }
      out.put(e.key(), list);
    }
    return out;
  }

  private static Recipe.Mirror mirror(Node item, String path, List<Problem> problems,
      Map<String, Position> positions) {
    String url;
    List<String> caps = List.of("pull", "resolve");
    Path ca = null;
    boolean skip = false;
    if (item instanceof Node.ScalarNode s && s.text() != null) {
      url = s.text();
    } else if (item instanceof Node.MapNode m) {
      Fields f = new Fields(m, path, problems, positions);
      url = f.requiredString("url", "e.g. https://mirror.site:5000");
      if (f.has("capabilities")) {
        caps = f.scalars("capabilities", c -> {
          if (!Set.of("pull", "resolve", "push").contains(c)) {
            throw new IllegalArgumentException("\"" + c + "\" is not a capability (pull, resolve, push)");
          }
          return c;
        }, null);
      }
      ca = f.file("ca");
      Boolean sv = f.bool("skipVerify");
      skip = sv != null && sv;
      f.finish();
    } else {
      problems.add(Problem.error(path, item.position(), "expected a mirror URL or {url, …}", null));
      return null;
    }
    if (url == null) {
      return null;
    }
    if (!url.matches("https?://[^/\\s]+(/\\S*)?")) {
      problems.add(Problem.error(path, item.position(), "\"" + url + "\" is not an http(s) URL",
          "plain http only for mirrors you trust, e.g. http://127.0.0.1:5000"));
      return null;
    }
    return new Recipe.Mirror(url.replaceAll("/+$", ""), caps, ca, skip);
  }

  private static Recipe.Disk disk(Fields root) {
    Fields f = root.map("disk");
    if (f == null) {
      return new Recipe.Disk(null);
    }
    Long bytes = null;
    String s = f.string("size");
    if (s != null) {
      bytes = parseSize(s);
      if (bytes == null) {
        f.error("size", "\"" + s + "\" is not a size", "e.g. 40G (binary units, as qemu-img)");
      } else if (bytes > MAX_DISK) {
        f.error("size", s + " is larger than a qcow2 image can be (" + (MAX_DISK >> 40) + "T)", "e.g. 40G");
        bytes = null;
      } else if (bytes < (2L << 30)) {
        f.error("size", s + " is too small for a Kubernetes node", "use at least 2G; 20G is the control-plane default");
        bytes = null;
      }
    }
    f.finish();
    return new Recipe.Disk(bytes);
  }

  /** qcow2's largest virtual size with 64 KiB clusters (qemu's QCOW_MAX_L1_SIZE limit): 64 TiB. */
  static final long MAX_DISK = 64L << 40;

  /** Parses 40G, 40GiB, 20480M, 1T or plain bytes (binary units); null if malformed or beyond a long. */
  public static Long parseSize(String s) {
    Matcher m = SIZE.matcher(s.trim());
    if (!m.matches()) {
      return null;
    }
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      return null; // more digits than a long holds
    }
    int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
      case "K" -> 10;
      case "M" -> 20;
      case "G" -> 30;
      case "T" -> 40;
      default -> 0;
    };
    // A size that does not survive the shift would silently become another size.
    return n > (Long.MAX_VALUE >> shift) ? null : n << shift;
  }

  private static Recipe.Output output(Fields f) {
    if (f == null) {
      return new Recipe.Output(null, null, null, null, null, null);
    }
    Path path = f.file("path");
    String format = f.choice("format", Map.of("qcow2", "qcow2"));
    String compression = f.choice("compression", Map.of("zstd", "zstd", "zlib", "zlib", "none", "none"));
    Boolean reproducible = f.bool("reproducible");
    String vagrant = f.choice("vagrant", Map.of("libvirt", "libvirt"));
    String publish = f.string("publish");
    f.finish();
    return new Recipe.Output(path, format, compression, reproducible, vagrant, publish);
  }

  private static Recipe.Catalogue catalogue(Fields f) {
    if (f == null) {
      return new Recipe.Catalogue(null, null, null, null, null, null, null);
    }
    String name = f.string("name");
    String purpose = f.choice("purpose", Map.of("Kubernetes Control Plane", "Kubernetes Control Plane",
        "Kubernetes Worker", "Kubernetes Worker"));
    String iface = f.choice("defaultInterface", Map.of("virtio", "virtio", "virtio-scsi", "virtio-scsi",
        "scsi", "scsi", "sata", "sata", "ide", "ide"));
    Boolean cloudinit = f.bool("cloudinit");
    Boolean isPublic = f.bool("public");
    Boolean enabled = f.bool("enabled");
    String qemu = f.string("hypervisorQemu");
    if (qemu != null && !qemu.matches("[0-9]+\\.[0-9]+(\\.[0-9]+)?")) {
      f.error("hypervisorQemu", "\"" + qemu + "\" is not a qemu version",
          "the oldest qemu among the catalogue's hypervisors, e.g. 7.2");
      qemu = null;
    }
    f.finish();
    return new Recipe.Catalogue(name, purpose, iface, cloudinit, isPublic, enabled, qemu);
  }
}
