package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.ImagePublish;
import io.hypervisor.assembler.provenance.Attestations;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble publish IMAGE REF}: the image as a KubeVirt containerDisk in a registry, its documents attached. */
@Command(name = "publish", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Pushes IMAGE to the registry as a KubeVirt containerDisk (an OCI image whose one layer holds "
        + "disk/NAME.qcow2, owned by 107:107, mode 0440, times from the build's epoch), attaches the SBOMs, the "
        + "provenance and the checksums (and their signature) as OCI 1.1 artifacts whose subject is it, then puts "
        + "the tag. The catalogue manifest beside IMAGE records the reference by digest in place of ${IMAGE_URL}, "
        + "and the checksums are sealed again.", "",
        "Registries and credentials as for pulls: --hosts-dir (containerd's hosts.toml, a host needs the push "
            + "capability), docker's config.json and credential helpers. A rerun uploads nothing the registry "
            + "already has; nothing is tagged until everything else is there."},
    footer = {"", "Examples:",
        "  assemble publish out/hks-worker-1.34.2.qcow2 registry.example.org/kubevirt/hks-worker:1.34.2",
        "  assemble publish out/hks-worker-1.34.2.qcow2 registry.example.org/kubevirt/hks-worker:1.34.2 "
            + "--sign-key release-secret.asc"})
final class PublishCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Mixin
  RegistryOptions registries;

  @Parameters(index = "0", paramLabel = "IMAGE", description = "The built image (qcow2), with NAME.json beside it.")
  Path image;

  @Parameters(index = "1", paramLabel = "REF", description = "REGISTRY/REPOSITORY:TAG to publish to.")
  String ref;

  @Option(names = "--platform", paramLabel = "OS/ARCH", description = "The containerDisk's platform (default linux/amd64).")
  String platform = "linux/amd64";

  @Option(names = "--sign-key", paramLabel = "FILE",
      description = "Sign the checksums again with this OpenPGP secret key (needed when the build signed them; "
          + "passphrase from $ASSEMBLE_SIGN_PASSPHRASE).")
  Path signKey;

  @Override
  public Integer call() {
    byte[] pgp = signKey == null ? null : Options.signingKey(signKey);
    Attestations.Keys keys = new Attestations.Keys(null, pgp, System.getenv()
        .getOrDefault("ASSEMBLE_SIGN_PASSPHRASE", "").toCharArray());
    ImagePublish.Result r = new ImagePublish(root.settings(), root.events()).publish(image, ref, platform,
        registries.access(), new Attestations(keys), pgp != null);
    if (root.json) {
      Tables.json(root.out, Map.of("kind", "publish", "reference", r.reference(), "tag", r.tagged(), "uploaded",
          r.uploaded(), "skipped", r.skipped(), "mounted", r.mounted(), "attached", r.attached()));
    } else {
      root.out.println("published " + r.tagged() + " as " + r.reference() + " (" + r.uploaded() + " blobs uploaded, "
          + r.skipped() + " already there, " + r.mounted() + " mounted, " + r.attached() + " artifacts attached)");
    }
    return ExitCodes.OK;
  }
}
