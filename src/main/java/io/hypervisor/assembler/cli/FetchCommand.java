package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.Bundler;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.plan.Plan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code assemble fetch RECIPE --bundle FILE}: everything a build needs, in one verified file for an air-gapped site. */
@Command(name = "fetch", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"On a connected host: locks the recipe, fetches and verifies every package, key and image it "
        + "needs, and writes one bundle for a site with no network.", "",
        "The bundle is a tar: bundle.json (every file with its sha256 and size; signed with --sign-key), the lock, "
            + "the images as an OCI layout (skopeo and ctr can read them too), the package files and repository "
            + "keys, and with --with-base the downloaded base image. At the site: assemble RECIPE --bundle FILE."},
    footer = {"", "Examples:",
        "  assemble fetch recipes/recipe-1.34-worker.yaml --bundle site-worker.tar",
        "  ASSEMBLE_SIGN_PASSPHRASE=… assemble fetch recipes/recipe-1.34-cp.yaml --bundle cp.tar --with-base "
            + "--sign-key release-key.asc"})
final class FetchCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "RECIPE", description = "The recipe (YAML).")
  Path recipe;

  @Option(names = "--bundle", paramLabel = "FILE", required = true, description = "The bundle to write.")
  Path bundle;

  @Option(names = "--with-base", description = "Include the base image (recipes whose base is a download).")
  boolean withBase;

  @Option(names = "--sign-key", paramLabel = "FILE",
      description = "Sign the bundle's manifest with this OpenPGP secret key (armored or binary; passphrase from "
          + "$ASSEMBLE_SIGN_PASSPHRASE, none when unset).")
  Path signKey;

  @Override
  public Integer call() {
    Plan plan = root.plan(recipe);
    byte[] key = signKey == null ? null : Options.signingKey(signKey);
    String pass = System.getenv().getOrDefault("ASSEMBLE_SIGN_PASSPHRASE", "");
    Bundler.Written w = new Bundler(root.settings(), root.events()).fetch(plan, bundle, withBase, key,
        pass.toCharArray());
    root.out.println("wrote " + w.file() + " (" + Console.amount(w.bytes(), "bytes") + ", "
        + w.manifest().items().size() + " files" + (key != null ? ", signed" : "") + ")");
    root.out.println("at the site: assemble " + recipe + " --bundle " + bundle.getFileName());
    return ExitCodes.OK;
  }
}
