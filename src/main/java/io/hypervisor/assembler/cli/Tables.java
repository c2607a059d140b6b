package io.hypervisor.assembler.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.hypervisor.assembler.model.Check;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Check tables for people and the same data as JSON for machines (doctor, verify). */
final class Tables {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Tables() {}

  static void checks(PrintStream out, List<Check> checks) {
    // Capped: one very long image reference should not push every detail off the screen.
    int w = Math.min(40, checks.stream().mapToInt(c -> c.name().length()).max().orElse(10));
    for (Check c : checks) {
      out.printf("%-4s  %-" + w + "s  %s%n", c.status(), c.name(), c.detail());
    }
  }

  static void json(PrintStream out, Object value) {
    try {
      out.println(JSON.writeValueAsString(value));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static void json(PrintStream out, String kind, List<Check> checks, Map<String, Object> extra) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("kind", kind);
    m.putAll(extra);
    m.put("checks", checks);
    try {
      out.println(JSON.writeValueAsString(m));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
