package io.hypervisor.assembler.model;

/** Where a value came from: a file with line and column, or a named override such as --set. */
public record Position(String source, int line, int column) {
  public static Position of(String source) {
    return new Position(source, 0, 0);
  }

  @Override
  public String toString() {
    return line > 0 ? source + ":" + line + ":" + column : source;
  }
}
