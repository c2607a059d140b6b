package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.ImageTools;
import io.hypervisor.assembler.assemble.Seeder;
import io.hypervisor.assembler.model.AssemblerException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code assemble seed}: containerd's image store as files, without running containerd. */
@Command(name = "seed", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Writes containerd's image store for images into a directory, offline.", "",
        "Pulls the images (or takes them from the cache) and writes io.containerd.content.v1.content "
            + "(blobs) and io.containerd.metadata.v1.bolt/meta.db under --root, so containerd lists "
            + "them at its next start (namespace k8s.io, the three names CRI uses, GC labels). With "
            + "--plan the images, containerd version, sandbox image, platform and mirrors come from "
            + "a plan written by 'assemble plan --json'. An existing meta.db under --root is merged "
            + "(stop containerd first)."},
    footer = {"", "Examples:", "  assemble plan --json recipes/recipe-1.34-worker.yaml > plan.json",
        "  assemble seed --plan plan.json --root /var/lib/containerd",
        "  assemble seed --images registry.k8s.io/pause:3.10.1 --containerd 1.7 --root ./ctrd-root"})
final class SeedCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @ArgGroup(exclusive = true, multiplicity = "1")
  What what;

  /** Either a plan or a list of images. */
  static final class What {
    @Option(names = "--plan", paramLabel = "PLAN", description = "A plan file from 'assemble plan --json'.")
    Path plan;

    @Option(names = "--images", paramLabel = "REF", split = ",", arity = "1..*", description = "Image references.")
    List<String> images;
  }

  @Option(names = "--root", required = true, paramLabel = "DIR", description = "containerd root to write (e.g. /var/lib/containerd).")
  Path rootDir;

  @Option(names = "--containerd", paramLabel = "X.Y", defaultValue = "2.2",
      description = "containerd line the store is for (with --images): 1.6/1.7 use metadata version 3, 2.x version 4. Default: ${DEFAULT-VALUE}.")
  String containerd;

  @Option(names = "--platform", paramLabel = "OS/ARCH", defaultValue = "linux/amd64",
      description = "The node's platform (with --images). Default: ${DEFAULT-VALUE}.")
  String platform;

  @Option(names = "--sandbox-image", paramLabel = "REF",
      description = "The CRI sandbox image (pinned for 1.7+; with --images).")
  String sandbox;

  @picocli.CommandLine.Mixin
  RegistryOptions registries = new RegistryOptions();


  @Override
  public Integer call() {
    if (!containerd.matches("[0-9]{1,4}\\.[0-9]{1,4}(\\.[0-9]{1,6})?")) {
      throw AssemblerException.input("--containerd " + containerd + " is not a containerd line", "e.g. 1.7 or 2.1");
    }
    ImageTools.Access access = registries.access().local(root.imageArchives(), root.settings().offline());
    Seeder.Request req = what.plan != null ? Seeder.fromPlan(what.plan, access)
        : new Seeder.Request(what.images, containerd, Options.platform(platform), sandbox, access);
    Seeder.Result r = new Seeder(root.settings(), root.events()).seed(req, rootDir);
    root.out.println("seeded " + r.images() + " images (" + r.blobs() + " blobs, " + Console.amount(r.bytes(), "bytes")
        + ") into " + r.root());
    return ExitCodes.OK;
  }
}
