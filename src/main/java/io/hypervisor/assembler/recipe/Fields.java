package io.hypervisor.assembler.recipe;

import io.hypervisor.assembler.model.Position;
import io.hypervisor.assembler.model.Problem;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads the keys of one YAML mapping into typed values, collecting problems instead of throwing.
 * Every key a reader asks for counts as known; {@link #finish()} reports the rest as unknown, with
 * the closest known key as a suggestion, so the schema lives in one place: the reading code.
 */
final class Fields {
  private final Node.MapNode node;
  private final String path;
  private final List<Problem> problems;
  private final Map<String, Position> positions;
  private final Set<String> asked = new LinkedHashSet<>();

  Fields(Node.MapNode node, String path, List<Problem> problems, Map<String, Position> positions) {
    this.node = node;
    this.path = path;
    this.problems = problems;
    this.positions = positions;
    positions.putIfAbsent(path, node.position());
  }

  String path(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  Position position() {
    return node.position();
  }

  /** The raw node of a key, or null when absent; marks the key as known. */
  Node node(String key) {
    asked.add(key);
    Node.Entry e = node.entries().get(key);
    if (e == null) {
      return null;
    }
    positions.put(path(key), e.value().position());
    return e.value();
  }

  boolean has(String key) {
    asked.add(key);
    Node.Entry e = node.entries().get(key);
    return e != null && !(e.value() instanceof Node.ScalarNode s && s.text() == null);
  }

  void error(String key, String message, String hint) {
    Node.Entry e = node.entries().get(key);
    problems.add(Problem.error(path(key), e == null ? node.position() : e.value().position(),
        message, hint));
  }

  void warning(String key, String message, String hint) {
    Node.Entry e = node.entries().get(key);
    problems.add(Problem.warning(path(key), e == null ? node.position() : e.value().position(),
        message, hint));
  }

  String string(String key) {
    Node n = node(key);
    if (n == null) {
      return null;
    }
    if (n instanceof Node.ScalarNode s) {
      return s.text();
    }
    error(key, "expected a single value, found " + Node.kindOf(n), null);
    return null;
  }

  String requiredString(String key, String hint) {
    String s = string(key);
    if (s == null && !node.entries().containsKey(key)) {
      problems.add(Problem.error(path(key), node.position(), "missing required key \"" + key + "\"",
          hint));
    } else if (s == null || s.isBlank()) {
      error(key, "must not be empty", hint);
      return null;
    }
    return s;
  }

  /** One of a fixed set of words (aliases map to canonical names), or null when absent/bad. */
  String choice(String key, Map<String, String> allowed) {
    String s = string(key);
    if (s == null) {
      return null;
    }
    String v = allowed.get(s);
    if (v == null) {
      error(key, "\"" + s + "\" is not allowed", Suggest.hint(s, new LinkedHashSet<>(allowed.values())));
    }
    return v;
  }

  Boolean bool(String key) {
    String s = string(key);
    if (s == null) {
      return null;
    }
    return switch (s) {
      case "true", "on", "yes" -> Boolean.TRUE;
      case "false", "off", "no" -> Boolean.FALSE;
      default -> {
        error(key, "\"" + s + "\" is not a boolean", "use true or false");
        yield null;
      }
    };
  }

  /** A path resolved against the directory of the file that wrote it (or the working dir). */
  Path file(String key) {
    String s = string(key);
    if (s == null) {
      return null;
    }
    return resolve(s, node.entries().get(key).value().position());
  }

  static Path resolve(String text, Position from) {
    Path p = Path.of(text);
    if (p.isAbsolute()) {
      return p.normalize();
    }
    Path src = from == null || from.line() == 0 ? null : Path.of(from.source());
    Path base = src == null || src.getParent() == null ? Path.of("") : src.getParent();
    return base.resolve(p).normalize();
  }

  Fields map(String key) {
    Node n = node(key);
    if (n == null || n instanceof Node.ScalarNode s && s.text() == null) {
      return null;
    }
    if (n instanceof Node.MapNode m) {
      return new Fields(m, path(key), problems, positions);
    }
    error(key, "expected a mapping, found " + Node.kindOf(n), null);
    return null;
  }

  /** A list whose items are each turned into a value; bad items are reported and skipped. */
  <T> List<T> list(String key, ItemReader<T> reader) {
    Node n = node(key);
    List<T> out = new ArrayList<>();
    if (n == null || n instanceof Node.ScalarNode s && s.text() == null) {
      return out;
    }
    if (!(n instanceof Node.ListNode l)) {
      error(key, "expected a list, found " + Node.kindOf(n), null);
      return out;
    }
    for (int i = 0; i < l.items().size(); i++) {
      Node item = l.items().get(i);
      String itemPath = path(key) + "[" + i + "]";
      positions.put(itemPath, item.position());
      T v = reader.read(item, itemPath);
      if (v != null) {
        out.add(v);
      }
    }
    return out;
  }

  /** A list of scalars converted by {@code convert}; conversion errors become problems. */
  <T> List<T> scalars(String key, Function<String, T> convert, String hint) {
    return list(key, (item, itemPath) -> {
      if (!(item instanceof Node.ScalarNode s) || s.text() == null) {
        problems.add(Problem.error(itemPath, item.position(),
            "expected a single value, found " + Node.kindOf(item), hint));
        return null;
      }
      try {
        return convert.apply(s.text());
      } catch (IllegalArgumentException e) {
        problems.add(Problem.error(itemPath, item.position(), e.getMessage(), hint));
        return null;
      }
    });
  }

  /** A mapping of scalar keys to scalar values, in file order. */
  Map<String, String> stringMap(String key) {
    Node n = node(key);
    Map<String, String> out = new LinkedHashMap<>();
    if (n == null || n instanceof Node.ScalarNode s && s.text() == null) {
      return out;
    }
    if (!(n instanceof Node.MapNode m)) {
      error(key, "expected a mapping, found " + Node.kindOf(n), null);
      return out;
    }
    for (Node.Entry e : m.entries().values()) {
      positions.put(path(key) + "." + e.key(), e.value().position());
      if (e.value() instanceof Node.ScalarNode s && s.text() != null) {
        out.put(e.key(), s.text());
      } else {
        problems.add(Problem.error(path(key) + "." + e.key(), e.value().position(),
            "expected a single value, found " + Node.kindOf(e.value()), null));
      }
    }
    return out;
  }

  /** The entries of a mapping whose keys are free-form (e.g. registry hosts). */
  List<Node.Entry> entries(String key) {
    Node n = node(key);
    if (n == null || n instanceof Node.ScalarNode s && s.text() == null) {
      return List.of();
    }
    if (!(n instanceof Node.MapNode m)) {
      error(key, "expected a mapping, found " + Node.kindOf(n), null);
      return List.of();
    }
    return List.copyOf(m.entries().values());
  }

  /** Reports every key nobody asked for. */
  void finish() {
    for (Node.Entry e : node.entries().values()) {
      if (!asked.contains(e.key())) {
        problems.add(Problem.error(path(e.key()), e.keyPosition(), "unknown key \"" + e.key() + "\"",
            Suggest.hint(e.key(), asked)));
      }
    }
  }

  List<Problem> problems() {
    return problems;
  }

  Map<String, Position> positions() {
    return positions;
  }

  /** Turns one list item into a value, or returns null after reporting a problem. */
  @FunctionalInterface
  interface ItemReader<T> {
    T read(Node item, String itemPath);
  }
}
