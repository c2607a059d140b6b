package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.ImageTools;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble inspect REF|ARCHIVE}: index, manifests and configs with their digests. */
@Command(name = "inspect", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Shows an image's index, manifests and configs with their digests.", "",
        "Works on a registry reference or an archive (OCI layout tar or directory, docker save, ctr "
            + "export). Layers are listed, not downloaded."},
    footer = {"", "Examples:", "  assemble inspect registry.k8s.io/pause:3.10.1",
        "  assemble inspect --json images/pause.tar"})
final class InspectCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "REF|ARCHIVE", description = "Image reference, or path of an archive.")
  String what;

  @Option(names = "--platform", paramLabel = "OS/ARCH", description = "Only this platform of an index.")
  String platform;

  @picocli.CommandLine.Mixin
  RegistryOptions registries = new RegistryOptions();


  @Override
  public Integer call() {
    ImageTools.Inspection i = new ImageTools(root.settings(), root.events()).inspect(what,
        registries.access().local(List.of(), root.settings().offline()), platform == null ? null
            : Options.platform(platform));
    if (root.json) {
      Tables.json(root.out, i);
      return ExitCodes.OK;
    }
    root.out.println(i.reference() + "  (" + i.source() + ")");
    root.out.println("  " + i.mediaType() + "  " + i.digest());
    for (String p : i.indexPlatforms()) {
      root.out.println("    " + p);
    }
    for (ImageTools.PlatformSummary p : i.platforms()) {
      root.out.println("  " + p.platform() + "  manifest " + p.manifest());
      root.out.println("    config " + p.config());
      for (String l : p.layers()) {
        root.out.println("    layer  " + l);
      }
      root.out.println("    " + p.layers().size() + " layers, " + Console.amount(p.size(), "bytes"));
    }
    return ExitCodes.OK;
  }
}
