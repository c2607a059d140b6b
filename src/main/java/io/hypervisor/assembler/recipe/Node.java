package io.hypervisor.assembler.recipe;

import io.hypervisor.assembler.model.Position;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A YAML value with the position it was read from (Jackson's tree model drops positions). */
sealed interface Node {
  Position position();

  /** A YAML mapping; insertion order is the file's order. */
  record MapNode(Position position, Map<String, Entry> entries) implements Node {
    public MapNode {
      entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }
  }

  /** One key of a mapping with the key's own position. */
  record Entry(String key, Position keyPosition, Node value) {}

  /** A YAML sequence. */
  record ListNode(Position position, List<Node> items) implements Node {
    public ListNode {
      items = List.copyOf(items);
    }
  }

  /** A YAML scalar as written ({@code text} is null for YAML null/~). */
  record ScalarNode(Position position, String text) implements Node {}

  /** A short name of the node's YAML type, for messages. */
  static String kindOf(Node n) {
    if (n instanceof MapNode) {
      return "a mapping";
    }
    if (n instanceof ListNode) {
      return "a list";
    }
    return ((ScalarNode) n).text() == null ? "null" : "a scalar";
  }
}
