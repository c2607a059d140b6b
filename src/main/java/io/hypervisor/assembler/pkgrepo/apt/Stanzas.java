package io.hypervisor.assembler.pkgrepo.apt;

import java.io.BufferedReader;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Reads deb822 paragraphs (Packages, dpkg status, Release, .sources) one at a time from a
 * stream, keeping only the wanted fields (a full Packages file is ~60 000 paragraphs).
 * Continuation lines are joined with newlines; field names are case-insensitive and returned
 * in lower case.
 */
final class Stanzas {
  private final BufferedReader in;
  private final Set<String> wanted;

  /** {@code wanted} (lower-case names) null keeps every field. */
  Stanzas(BufferedReader in, Set<String> wanted) {
    this.in = in;
    this.wanted = wanted;
  }

  /** The next paragraph, or null at the end. */
  Map<String, String> next() throws IOException {
    Map<String, String> m = null;
    String key = null;
    StringBuilder value = null;
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      if (line.isBlank()) {
        if (m != null) {
          break;
        }
        continue;
      }
      if (line.charAt(0) == '#') {
        continue;
      }
      if (m == null) {
        m = new LinkedHashMap<>();
      }
      char c = line.charAt(0);
      if (c == ' ' || c == '\t') {
        if (value != null) {
          value.append('\n').append(line.substring(1));
        }
        continue;
      }
      if (key != null && value != null) {
        m.put(key, value.toString());
      }
      int colon = line.indexOf(':');
      if (colon <= 0) {
        key = null;
        value = null;
        continue;
      }
      key = line.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT);
      if (wanted != null && !wanted.contains(key)) {
        key = null;
        value = null;
        continue;
      }
      value = new StringBuilder(line.substring(colon + 1).trim());
    }
    if (m != null && key != null && value != null) {
      m.put(key, value.toString());
    }
    return m;
  }

}
