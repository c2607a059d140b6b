package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.PlanPrinter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble plan RECIPE}: the resolved bill of materials, without network. */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Prints the build plan of a recipe, without network.", "",
        "The plan lists the base image and OS family, repositories, packages with version "
            + "constraints, images per role, files to write, units to enable/disable/mask, disk "
            + "size, output and catalogue entry. The same recipe always gives the same plan."},
    footer = {"", "Examples:", "  assemble plan recipes/recipe-1.34-worker.yaml",
        "  assemble plan recipes/recipe-1.34-cp.yaml --json > plan.json",
        "  assemble plan recipes/recipe-1.34-worker.yaml --set kubernetes.version=1.34.3"})
final class PlanCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "RECIPE", description = "The recipe (YAML).")
  Path recipe;

  @Override
  public Integer call() {
    Plan plan = root.plan(recipe);
    root.out.print(root.json ? PlanPrinter.json(plan) : PlanPrinter.text(plan));
    return ExitCodes.OK;
  }
}
