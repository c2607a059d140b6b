package io.hypervisor.assembler.stepcache;

import io.hypervisor.assembler.model.Digest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A layer's key: the sha256 of a canonical text, one input per line (the assembler and cache
 * format, the base's digest, the disk size, the epoch, each cached step with its options). The
 * text is kept with the layer, so {@code cache ls} and a miss can say what the key was made of.
 */
public record StepKey(Digest digest, String text) {
  /** The key of these lines, in this order. */
  public static StepKey of(List<String> lines) {
    for (String l : lines) {
      if (l.indexOf('\n') >= 0) {
        throw new IllegalArgumentException("a key line holds a line break: " + l);
      }
    }
    String text = String.join("\n", lines) + "\n";
    return new StepKey(Digest.sha256(text.getBytes(StandardCharsets.UTF_8)), text);
  }

  /** Collects key lines. */
  public static final class Builder {
    private final List<String> lines = new ArrayList<>();

    public Builder add(String name, Object... values) {
      StringBuilder b = new StringBuilder(name);
      for (Object v : values) {
        b.append(' ').append(v);
      }
      lines.add(b.toString());
      return this;
    }

    public Builder addAll(List<String> more) {
      lines.addAll(more);
      return this;
    }

    public StepKey build() {
      return StepKey.of(lines);
    }
  }
}
