package io.hypervisor.assembler.tree;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Which paths of an image's root to read again when an earlier read of the same files is at
 * hand, and the tar exclusions that read only those. A path is read when it changed since that
 * read (its ctime, which no tool can set back, is newer), when the earlier read's owner marked
 * it (changed after the files were read from, by the build that read them), or when the earlier
 * read lacks it. Everything else is excluded: a whole directory when nothing below it is read,
 * else the single path; a directory above a read path stays in the read (its entry is cheap).
 */
public final class PartialRead {
  /** The paths to read and the tar exclusion patterns ({@code ./path}, wildcards escaped). */
  public record Selection(Set<String> read, List<String> excludes) {}

  private PartialRead() {}

  /**
   * {@code listing}: every path of the root now (relative, no "./", without the root itself);
   * {@code changed}: paths changed since; {@code cached}: the earlier read's paths;
   * {@code stale}: paths the earlier read holds but which must be read anyway.
   */
  public static Selection select(Collection<String> listing, Set<String> changed, Set<String> cached,
      Set<String> stale) throws IOException {
    Set<String> read = new HashSet<>();
    for (String p : listing) {
      if (p.isEmpty() || p.equals(".") || p.startsWith("/") || p.indexOf('\n') >= 0 || p.indexOf('\r') >= 0
          || p.indexOf('\uFFFD') >= 0) {
        throw new IOException("the listing holds a path a tar exclusion cannot name: " + p.replace("\n", "\\n"));
      }
      if (changed.contains(p) || stale.contains(p) || !cached.contains(p)) {
        read.add(p);
      }
    }
    Set<String> above = new HashSet<>();
    for (String p : read) {
      for (int slash = p.lastIndexOf('/'); slash > 0; slash = p.lastIndexOf('/', slash - 1)) {
        if (!above.add(p.substring(0, slash))) {
          break; // its parents are in already
        }
      }
    }
    Set<String> excluded = new HashSet<>();
    List<String> excludes = new ArrayList<>();
    for (String p : listing) {
      if (read.contains(p) || above.contains(p) || excludedAbove(p, excluded)) {
        continue;
      }
      excluded.add(p);
      excludes.add("./" + escape(p));
    }
    return new Selection(read, excludes);
  }

  private static boolean excludedAbove(String p, Set<String> excluded) {
    for (int slash = p.lastIndexOf('/'); slash > 0; slash = p.lastIndexOf('/', slash - 1)) {
      if (excluded.contains(p.substring(0, slash))) {
        return true;
      }
    }
    return false;
  }

  /** GNU tar's exclusion patterns are wildcards: a name's own {@code * ? [ \} must not act as them. */
  static String escape(String p) {
    StringBuilder b = new StringBuilder(p.length());
    for (char c : p.toCharArray()) {
      if (c == '*' || c == '?' || c == '[' || c == '\\') {
        b.append('\\');
      }
      b.append(c);
    }
    return b.toString();
  }
}
