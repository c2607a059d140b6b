package io.hypervisor.assembler.recipe;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import io.hypervisor.assembler.model.Position;
import io.hypervisor.assembler.model.Problem;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads YAML into {@link Node}s that remember line and column, reporting syntax problems. */
final class YamlTree {
  private static final YAMLFactory FACTORY = new YAMLFactory();

  private YamlTree() {}

  /** Parses one YAML document; returns null (with a problem added) when it is not valid YAML. */
  static Node parse(Reader in, String source, List<Problem> problems) {
    try (JsonParser p = FACTORY.createParser(in)) {
      JsonToken t = p.nextToken();
      if (t == null) {
        return new Node.MapNode(Position.of(source), Map.of());
      }
      Node root = read(p, t, source, problems);
      if (p.nextToken() != null) {
        problems.add(Problem.error("", position(p.currentTokenLocation(), source),
            "more than one YAML document", "put one recipe per file"));
      }
      return root;
    } catch (JsonProcessingException e) {
      JsonLocation loc = e.getLocation();
      problems.add(Problem.error("", loc == null ? Position.of(source) : position(loc, source),
          "not valid YAML: " + describe(e.getOriginalMessage()),
          "check indentation and quoting around this line"));
      return null;
    } catch (IOException e) {
      problems.add(Problem.error("", Position.of(source), "cannot read: " + e.getMessage(), null));
      return null;
    }
  }

  /** Parses a single value written on the command line (e.g. {@code --set a.b=[x, y]}). */
  static Node parseValue(String text, String source, List<Problem> problems) {
    return parse(new StringReader(text), source, problems);
  }

  /** snakeyaml's message without its source excerpt and caret lines, on one line. */
  static String describe(String message) {
    return String.join("; ", message.lines()
        .filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0)))
        .map(String::trim).toList());
  }

  private static Node read(JsonParser p, JsonToken t, String source, List<Problem> problems)
      throws IOException {
    Position pos = position(p.currentTokenLocation(), source);
    if (p instanceof YAMLParser y && y.isCurrentAlias()) {
      // Jackson hands an alias over as a string holding the anchor's name ("*v" would plan "v"),
      // and expanding them invites alias bombs: a recipe names its values, extends shares them.
      problems.add(Problem.error("", pos, "YAML aliases (*" + p.getText() + ") are not supported in recipes",
          "write the value out, or share settings with extends:"));
      return new Node.ScalarNode(pos, null);
    }
    switch (t) {
      case START_OBJECT -> {
        Map<String, Node.Entry> entries = new LinkedHashMap<>();
        for (JsonToken k = p.nextToken(); k != JsonToken.END_OBJECT; k = p.nextToken()) {
          String key = p.currentName();
          Position keyPos = position(p.currentTokenLocation(), source);
          Node value = read(p, p.nextToken(), source, problems);
          if (entries.containsKey(key)) {
            problems.add(Problem.error(key, keyPos, "duplicate key \"" + key + "\"",
                "the first one is at " + entries.get(key).keyPosition()));
          }
          entries.put(key, new Node.Entry(key, keyPos, value));
        }
        return new Node.MapNode(pos, entries);
      }
      case START_ARRAY -> {
        List<Node> items = new ArrayList<>();
        for (JsonToken i = p.nextToken(); i != JsonToken.END_ARRAY; i = p.nextToken()) {
          items.add(read(p, i, source, problems));
        }
        return new Node.ListNode(pos, items);
      }
      case VALUE_NULL -> {
        return new Node.ScalarNode(pos, null);
      }
      default -> {
        return new Node.ScalarNode(pos, p.getText());
      }
    }
  }

  private static Position position(JsonLocation loc, String source) {
    return new Position(source, loc.getLineNr(), loc.getColumnNr());
  }
}
