package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.model.SmallFiles;
import io.hypervisor.assembler.provenance.SignatureCheck;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble verify-signatures IMAGE}: the checksums, their signature, the provenance and the SBOMs beside an image, offline. */
@Command(name = "verify-signatures", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Checks what a build wrote beside IMAGE, offline: every file of NAME.SHA256SUMS at its sha256, "
        + "NAME.SHA256SUMS.asc by the trusted OpenPGP key, the provenance (NAME.provenance.json, DSSE) by the "
        + "trusted ECDSA P-256 key and its subjects at their sha256, and both SBOMs naming the image.", "",
        "The same as: sha256sum -c NAME.SHA256SUMS; gpgv --keyring KEY NAME.SHA256SUMS.asc NAME.SHA256SUMS; "
            + "cosign verify-blob-attestation --key PUB --insecure-ignore-tlog --type slsaprovenance1 "
            + "--signature NAME.provenance.json IMAGE. Exit 1 naming every failed check."},
    footer = {"", "Examples:",
        "  assemble verify-signatures out/hks-worker-1.34.2.qcow2 --trust-key release-key.pub.asc "
            + "--provenance-pub provenance.pub"})
final class VerifySignaturesCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "IMAGE", description = "The built image (qcow2).")
  Path image;

  @Option(names = "--trust-key", paramLabel = "FILE",
      description = "The OpenPGP public key NAME.SHA256SUMS.asc must be signed with (as for bundles).")
  Path trustKey;

  @Option(names = "--provenance-pub", paramLabel = "FILE",
      description = "The ECDSA P-256 public key (PEM) the provenance must be signed with.")
  Path provenancePub;

  @Override
  public Integer call() {
    if (!Files.isRegularFile(image)) {
      throw AssemblerException.input("no image at " + image, "give the path of a built image");
    }
    List<Check> checks;
    try {
      byte[] pgp = trustKey == null ? null : SmallFiles.read(trustKey, SmallFiles.KEY, "trust key");
      String pem = provenancePub == null ? null : SmallFiles.readString(provenancePub, SmallFiles.KEY, "provenance "
          + "public key");
      checks = SignatureCheck.check(image, pgp, pem);
    } catch (SmallFiles.Refused | java.nio.file.NoSuchFileException e) {
      throw AssemblerException.input("cannot read a key: " + e.getMessage(), "give --trust-key an OpenPGP public key "
          + "and --provenance-pub a PEM public key");
    } catch (IOException e) {
      throw AssemblerException.failed("checking the files beside " + image + ": " + e.getMessage(),
          "are they the ones the build wrote?");
    }
    long failed = checks.stream().filter(Check::failed).count();
    if (root.json) {
      Tables.json(root.out, "signatures", checks, Map.of("image", image.toString()));
    } else {
      Tables.checks(root.out, checks);
      root.out.println();
      root.out.println(image + ": " + (failed == 0 ? "all " + checks.size() + " checks passed"
          : failed + " of " + checks.size() + " checks failed"));
    }
    return failed == 0 ? ExitCodes.OK : ExitCodes.FAILED;
  }
}
