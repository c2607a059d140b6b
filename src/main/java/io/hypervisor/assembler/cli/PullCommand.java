package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.ImageTools;
import io.hypervisor.assembler.model.Platform;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble pull REF...}: images into the content store, and out as OCI layouts. */
@Command(name = "pull", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Pulls images into the content store with the built-in registry client.", "",
        "Every blob is verified (size and digest) while it streams; interrupted downloads resume; "
            + "the original top-level digest is kept. Per-host settings (mirrors, CA, client "
            + "certificates, skip_verify, plain http) come from containerd's hosts.toml layout "
            + "(--hosts-dir, default /etc/containerd/certs.d when it exists) or --mirror; "
            + "credentials from docker's config.json and its credential helpers. --oci-archive "
            + "writes one OCI layout tar (importable by ctr images import, readable by skopeo)."},
    footer = {"", "Examples:", "  assemble pull registry.k8s.io/pause:3.10.1",
        "  assemble pull --platform linux/amd64,linux/arm64 --oci-archive pause.tar registry.k8s.io/pause:3.10.1",
        "  assemble pull --mirror registry.k8s.io=http://127.0.0.1:5000 registry.k8s.io/kube-proxy:v1.34.2"})
final class PullCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(arity = "1..*", paramLabel = "REF", description = "Image references.")
  List<String> refs;

  @Option(names = "--platform", split = ",", paramLabel = "OS/ARCH",
      description = "Platforms to pull from multi-platform images. Default: linux/amd64.")
  List<String> platforms = new ArrayList<>(List.of("linux/amd64"));

  @Option(names = "--oci-archive", paramLabel = "FILE", description = "Also write the images as one OCI layout tar.")
  Path ociArchive;

  @Option(names = "--oci-dir", paramLabel = "DIR", description = "Also write the images into an OCI layout directory.")
  Path ociDir;

  @picocli.CommandLine.Mixin
  RegistryOptions registries = new RegistryOptions();


  @Override
  public Integer call() {
    List<Platform> ps = new ArrayList<>();
    for (String p : platforms) {
      ps.add(Options.platform(p));
    }
    List<ImageTools.Pulled> pulled = new ImageTools(root.settings(), root.events()).pull(refs, ps,
        registries.access().local(root.imageArchives(), root.settings().offline()), ociArchive, ociDir);
    if (root.json) {
      Tables.json(root.out, pulled);
    } else {
      for (ImageTools.Pulled p : pulled) {
        root.out.println(p.reference() + "  " + p.digest() + "  " + String.join(",", p.platforms()) + "  "
            + Console.amount(p.bytes(), "bytes"));
      }
    }
    return ExitCodes.OK;
  }
}
