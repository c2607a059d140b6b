package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.plan.KubernetesBom;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.Planner;
import io.hypervisor.assembler.recipe.RecipeReader;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code assemble images}: the image list of a version, role and CNI, one per line. */
@Command(name = "images", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Lists the container images of a node image, one per line.", "",
        "What `kubeadm config images list` prints for the role, plus the CNI's images, "
            + "metrics-server and the platform's cloud-controller-manager (control plane) or "
            + "cluster-autoscaler (worker). CCM_REGISTRY, CCM_VERSION, AUTOSCALER_REGISTRY and "
            + "AUTOSCALER_VERSION apply, as does --set."},
    footer = {"", "Examples:",
        "  assemble images --kubernetes-version 1.34.2 --role worker --cni cilium",
        "  assemble images --kubernetes-version 1.36.1 --role combined --cni calico"})
final class ImagesCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Option(names = "--kubernetes-version", required = true, paramLabel = "X.Y.Z",
      description = "Kubernetes patch version, e.g. 1.34.2.")
  String version;

  @Option(names = "--role", defaultValue = "worker", paramLabel = "ROLE",
      description = "control-plane (cp), worker or combined. Default: ${DEFAULT-VALUE}.")
  String role;

  @Option(names = "--cni", defaultValue = "cilium", paramLabel = "CNI",
      description = "cilium, calico or flannel. Default: ${DEFAULT-VALUE}.")
  String cni;

  @Option(names = "--cni-version", paramLabel = "X.Y.Z",
      description = "CNI release; default: the bill of materials' release for the minor.")
  String cniVersion;

  @Override
  public Integer call() {
    // The same path as a recipe: validation, defaults and overrides behave identically.
    String yaml = String.join("\n",
        "apiVersion: " + io.hypervisor.assembler.recipe.Recipe.API_VERSION,
        "kind: " + io.hypervisor.assembler.recipe.Recipe.KIND,
        "base: {path: base.qcow2, os: debian-12}",
        "kubernetes:",
        "  version: " + quote(version),
        "  role: " + quote(role),
        "  cni: {name: " + quote(cni) + (cniVersion == null ? "" : ", version: " + quote(cniVersion)) + "}",
        "");
    RecipeReader.Result r = root.reader().readText(yaml, "command line");
    Plan plan = new Planner(KubernetesBom.load()).plan(r.recipe(), r.warnings());
    plan.warnings().forEach(w -> root.events().warn(w.render()));
    plan.images().forEach(i -> root.out.println(i.ref()));
    return ExitCodes.OK;
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
