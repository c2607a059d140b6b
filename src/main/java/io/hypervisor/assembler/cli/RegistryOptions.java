package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.ImageTools;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** How verbs that talk to registries find them: a certs.d directory or --mirror flags. */
final class RegistryOptions {
  @Option(names = "--hosts-dir", paramLabel = "DIR",
      description = "containerd certs.d directory with <registry>/hosts.toml. Default: /etc/containerd/certs.d if present.")
  Path hostsDir;

  @Option(names = "--mirror", paramLabel = "REGISTRY=URL",
      description = "Fetch REGISTRY's images from URL first (repeatable; overrides --hosts-dir).")
  List<String> mirrors = new ArrayList<>();

  ImageTools.Access access() {
    return Options.access(hostsDir, mirrors);
  }
}
