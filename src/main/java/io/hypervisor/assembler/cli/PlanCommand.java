package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.Locker;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.LockFile;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.PlanPrinter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble plan RECIPE}: the resolved bill of materials, without network. */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Prints the build plan of a recipe, without network; with --lock, resolves it exactly.", "",
        "The plan lists the base image and OS family, repositories, packages with version "
            + "constraints, images per role, files to write, units to enable/disable/mask, disk "
            + "size, output and catalogue entry. The same recipe always gives the same plan."},
    footer = {"", "Examples:", "  assemble plan recipes/recipe-1.34-worker.yaml",
        "  assemble plan recipes/recipe-1.34-cp.yaml --json > plan.json",
        "  assemble plan recipes/recipe-1.34-worker.yaml --set kubernetes.version=1.34.3",
        "  assemble plan recipes/recipe-1.34-worker.yaml --lock recipe-1.34-worker.lock.json"})
final class PlanCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "RECIPE", description = "The recipe (YAML).")
  Path recipe;

  @Option(names = "--lock", paramLabel = "FILE",
      description = "Also resolve the plan exactly and write the lock: every package of the dependency closure "
          + "(version, repository, URL, sha256, size) and every image's digest. Reads the base image's package "
          + "configuration (one read-only appliance) and the repositories' signed indexes.")
  Path lock;

  @Override
  public Integer call() {
    Plan plan = root.plan(recipe);
    if (lock == null) {
      root.out.print(root.json ? PlanPrinter.json(plan) : PlanPrinter.text(plan));
      return ExitCodes.OK;
    }
    Lock l = new Locker(root.settings(), root.events()).lockTo(plan, lock);
    if (root.json) {
      root.out.print(LockFile.json(l));
    } else {
      long bytes = l.packages().stream().mapToLong(Lock.Package::size).sum();
      root.out.println("locked " + plan.name() + ": " + l.packages().size() + " packages ("
          + Console.amount(bytes, "bytes") + "), " + l.images().size() + " images -> " + lock);
      for (Lock.Package p : l.packages()) {
        root.out.println("  " + p.name() + " " + p.version() + "  [" + p.repository() + "]");
      }
      for (Lock.Image i : l.images()) {
        root.out.println("  " + i.ref() + "@" + i.digest());
      }
    }
    return ExitCodes.OK;
  }
}
