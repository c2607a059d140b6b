package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.CacheGc;
import io.hypervisor.assembler.assemble.ImageTools;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code assemble cache ls|verify|gc}: the content store. */
@Command(name = "cache", mixinStandardHelpOptions = true,
    description = {"Lists, verifies and cleans the content store (<cache>/blobs/sha256/...)."},
    subcommands = {CacheCommand.Ls.class, CacheCommand.Verify.class, CacheCommand.Gc.class},
    footer = {"", "Examples:", "  assemble cache ls", "  assemble cache verify",
        "  assemble cache gc --locks ~/recipes --keep-days 14"})
final class CacheCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Override
  public Integer call() {
    root.err.println("error: name a cache action: ls, verify or gc");
    root.err.println("hint: assemble cache --help");
    return ExitCodes.INPUT;
  }

  /** {@code cache ls}. */
  @Command(name = "ls", mixinStandardHelpOptions = true, description = "Lists every blob with its size, then the step cache's layers (key, size, last use, steps, "
          + "base, packages).",
      footer = {"", "Example:", "  assemble cache ls"})
  static final class Ls implements Callable<Integer> {
    @ParentCommand
    CacheCommand cache;

    @Override
    public Integer call() {
      AssembleCommand root = cache.root;
      ImageTools tools = new ImageTools(root.settings(), root.events());
      var blobs = tools.list();
      var layers = tools.layers();
      if (root.json) {
        Tables.json(root.out, java.util.Map.of("blobs", blobs, "layers", layers));
      } else {
        long total = 0;
        for (var b : blobs) {
          root.out.printf("%s  %12d  %s%n", b.digest(), b.size(), b.modified());
          total += b.size();
        }
        root.out.println(blobs.size() + " blobs, " + Console.amount(total, "bytes") + " in " + root.settings().cacheDir());
        long layerBytes = 0;
        io.hypervisor.assembler.stepcache.StepCache steps = null;
        try {
          steps = io.hypervisor.assembler.stepcache.StepCache.open(root.settings().cacheDir());
        } catch (java.io.IOException e) {
          // listed without the trees' sizes
        }
        for (var l : layers) {
          long tree = 0;
          try {
            tree = steps == null ? 0 : steps.treeBytes(l);
          } catch (java.io.IOException e) {
            // a tree being removed: not counted
          }
          root.out.printf("layer %s  %12d  %s  %s on %s, %d packages%s%n", l.entry().key(), l.entry().size(),
              l.lastUsed(), String.join("+", l.entry().steps()), l.entry().base().substring(0, 19),
              l.entry().packages().size(), tree > 0 ? ", its files' tree " + Console.amount(tree, "bytes") : "");
          layerBytes += l.entry().size() + tree;
        }
        root.out.println(layers.size() + " step-cache layers, " + Console.amount(layerBytes, "bytes") + " in "
            + root.settings().cacheDir().resolve("steps"));
      }
      return ExitCodes.OK;
    }
  }

  /** {@code cache verify}. */
  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = "Re-hashes every blob; corrupt blobs are removed (the next pull fetches them again). Exit 1 if any was corrupt.",
      footer = {"", "Example:", "  assemble cache verify"})
  static final class Verify implements Callable<Integer> {
    @ParentCommand
    CacheCommand cache;

    @Override
    public Integer call() {
      AssembleCommand root = cache.root;
      var bad = new ImageTools(root.settings(), root.events()).verifyAll();
      bad.forEach(d -> root.out.println("corrupt (removed): " + d));
      root.out.println(bad.isEmpty() ? "every blob is intact" : bad.size() + " corrupt blobs removed");
      return bad.isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
    }
  }

  /** {@code cache gc}. */
  @Command(name = "gc", mixinStandardHelpOptions = true,
      description = "Removes blobs no lock file under --locks references (with everything reachable from "
          + "their images) and not used within --keep-days, and step-cache layers by the same rules (kept when a lock "
          + "names their base and every package in them, or when used within --keep-days). Refuses while a build "
          + "uses the cache.",
      footer = {"", "Example:", "  assemble cache gc --locks recipes/ --keep-days 14"})
  static final class Gc implements Callable<Integer> {
    @ParentCommand
    CacheCommand cache;

    @Option(names = "--locks", paramLabel = "DIR", description = "Directory searched for *.lock.json files to keep.")
    Path locks;

    @Option(names = "--keep-days", paramLabel = "N", description = "Also keep blobs used in the last N days.")
    Integer keepDays;

    @Override
    public Integer call() {
      AssembleCommand root = cache.root;
      if (locks == null && keepDays == null) {
        root.err.println("error: gc needs --locks DIR and/or --keep-days N (it would remove everything)");
        return ExitCodes.INPUT;
      }
      var r = CacheGc.run(root.settings(), locks, keepDays);
      root.out.println("removed " + r.blobs().removed().size() + " blobs (" + Console.amount(r.blobs().bytesFreed(),
          "bytes") + "), kept " + r.blobs().kept());
      root.out.println("removed " + r.layers().removed() + " step-cache layers (" + Console.amount(
          r.layers().bytesFreed(), "bytes") + "), kept " + r.layers().kept());
      return ExitCodes.OK;
    }
  }

  static List<String> names() {
    return List.of("ls", "verify", "gc");
  }
}
