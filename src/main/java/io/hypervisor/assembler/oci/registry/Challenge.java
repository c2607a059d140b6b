package io.hypervisor.assembler.oci.registry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One WWW-Authenticate challenge (RFC 7235): a scheme and its parameters. Parsed properly —
 * several challenges per header, quoted strings with escapes, commas inside quotes — not with a
 * regular expression (registry-client.md §1.6).
 */
public record Challenge(String scheme, Map<String, String> params) {
  public Challenge {
    scheme = scheme.toLowerCase(Locale.ROOT);
    params = Map.copyOf(params);
  }

  public String param(String name) {
    return params.get(name);
  }

  /** Every challenge in the given header values. */
  public static List<Challenge> parse(List<String> headers) {
    List<Challenge> out = new ArrayList<>();
    for (String h : headers) {
      out.addAll(parse(h));
    }
    return out;
  }

  static List<Challenge> parse(String header) {
    List<Challenge> out = new ArrayList<>();
    int i = 0;
    int n = header.length();
    String scheme = null;
    Map<String, String> params = new LinkedHashMap<>();
    while (i < n) {
      while (i < n && (header.charAt(i) == ' ' || header.charAt(i) == ',')) {
        i++;
      }
      int start = i;
      while (i < n && isToken(header.charAt(i))) {
        i++;
      }
      if (start == i) {
        i++;
        continue;
      }
      String token = header.substring(start, i);
      int j = i;
      while (j < n && header.charAt(j) == ' ') {
        j++;
      }
      if (j < n && header.charAt(j) == '=' && scheme != null) {
        i = j + 1;
        while (i < n && header.charAt(i) == ' ') {
          i++;
        }
        StringBuilder v = new StringBuilder();
        if (i < n && header.charAt(i) == '"') {
          i++;
          while (i < n && header.charAt(i) != '"') {
            if (header.charAt(i) == '\\' && i + 1 < n) {
              i++;
            }
            v.append(header.charAt(i++));
          }
          i++;
        } else {
          while (i < n && header.charAt(i) != ',' && header.charAt(i) != ' ') {
            v.append(header.charAt(i++));
          }
        }
        params.put(token.toLowerCase(Locale.ROOT), v.toString());
      } else {
        if (scheme != null) {
          out.add(new Challenge(scheme, params));
          params = new LinkedHashMap<>();
        }
        scheme = token;
      }
    }
    if (scheme != null) {
      out.add(new Challenge(scheme, params));
    }
    return out;
  }

  private static boolean isToken(char c) {
    return Character.isLetterOrDigit(c) || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
  }
}
