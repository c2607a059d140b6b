package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.ImageTrees;
import io.hypervisor.assembler.tree.TreeDiff;
import io.hypervisor.assembler.tree.TreeEntry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble diff A B}: the paths whose content or metadata differ between two images or tree manifests. */
@Command(name = "diff", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Lists the paths of the root file tree that differ between A and B, each an image or the "
        + "NAME.mtree written beside one: '+' only in B, '-' only in A, '~' in both with the fields that "
        + "differ (type, mode, owner, size, sha256, link target, extended attributes, time).",
        "", "For when a rebuild does not give the same sha256: the tree names what changed. Exit 0 when the "
            + "trees are the same, 1 when they differ."},
    footer = {"", "Examples:",
        "  assemble diff out/hks-worker-1.34.2.mtree rebuilt/hks-worker-1.34.2.mtree",
        "  assemble diff out/hks-worker-1.34.2.qcow2 rebuilt/hks-worker-1.34.2.qcow2"})
final class DiffCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "A", description = "An image, or its tree manifest (NAME.mtree).")
  Path a;

  @Parameters(index = "1", paramLabel = "B", description = "Another image or tree manifest.")
  Path b;

  @Override
  public Integer call() {
    ImageTrees trees = new ImageTrees(root.settings(), root.events());
    List<TreeEntry> left = trees.read(a);
    List<TreeEntry> right = trees.read(b);
    List<TreeDiff.Change> changes = TreeDiff.diff(left, right);
    if (root.json) {
      List<Map<String, Object>> out = new ArrayList<>();
      for (TreeDiff.Change c : changes) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", c.kind());
        m.put("path", c.path());
        Map<String, List<String>> fields = new LinkedHashMap<>();
        c.fields().forEach((k, v) -> fields.put(k, java.util.Arrays.asList(v)));
        m.put("fields", fields);
        out.add(m);
      }
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("kind", "diff");
      doc.put("a", a.toString());
      doc.put("b", b.toString());
      doc.put("same", changes.isEmpty());
      doc.put("changes", out);
      Tables.json(root.out, doc);
    } else {
      changes.forEach(c -> root.out.println(c.describe()));
      if (!changes.isEmpty()) {
        root.out.println();
      }
      root.out.println(changes.isEmpty() ? "the same tree: " + left.size() + " paths"
          : changes.size() + " of " + Math.max(left.size(), right.size()) + " paths differ");
    }
    return changes.isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
  }
}
