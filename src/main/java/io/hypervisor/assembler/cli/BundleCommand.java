package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.Bundler;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.SmallFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble bundle ls|verify FILE}: what a bundle holds, and whether every file is intact. */
@Command(name = "bundle", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Lists (ls) or checks (verify) a bundle written by assemble fetch, without a recipe.", "",
        "verify reads every file once and checks it against bundle.json's sha256 and size (nothing is kept), "
            + "and with --trust-key the manifest's signature. Exit 1 listing every missing, unlisted or bad file."},
    footer = {"", "Examples:", "  assemble bundle ls site-worker.tar",
        "  assemble bundle verify site-worker.tar --trust-key release-key.pub.asc"})
final class BundleCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "ls|verify") String action;

  @Parameters(index = "1", paramLabel = "FILE", description = "The bundle.") Path bundle;

  @Option(names = "--trust-key", paramLabel = "FILE", description = "Require a good signature by this OpenPGP public key.")
  Path trustKey;

  @Override
  public Integer call() {
    if (!action.equals("ls") && !action.equals("verify")) {
      throw AssemblerException.input("unknown bundle action " + action, "use ls or verify");
    }
    Bundler.Report c;
    try {
      c = Bundler.check(bundle, trustKey == null ? null : SmallFiles.read(trustKey, SmallFiles.KEY, "trust key"));
    } catch (IOException e) {
      throw AssemblerException.input("reading the bundle " + bundle + ": " + e.getMessage(),
          "give a file written by assemble fetch");
    }
    if (root.json) {
      Tables.json(root.out, Map.of("bundle", bundle.toString(), "report", c));
    } else if (action.equals("ls")) {
      c.files().forEach(root.out::println);
      // A signature is only "good" once checked against a key the user trusts.
      root.out.println(c.files().size() + " files, " + (!c.signed() ? "not signed" : trustKey == null
          ? "signature present, not checked (give --trust-key KEY)" : c.problems().stream()
              .anyMatch(p -> p.startsWith("signature:")) ? "signature BAD" : "signature good")
          + (c.ok() ? "" : "; " + c.problems().size() + " problems (assemble bundle verify lists them)"));
    } else {
      c.problems().forEach(p -> root.out.println("FAIL  " + p));
      root.out.println(bundle + ": " + (c.ok() ? "all " + c.files().size() + " files intact"
          + (trustKey != null ? ", signature good" : "") : c.problems().size() + " problems"));
    }
    return c.ok() ? ExitCodes.OK : ExitCodes.FAILED;
  }
}
