package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.BootVerifier;
import io.hypervisor.assembler.assemble.ImageCheck;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.LockFile;
import io.hypervisor.assembler.plan.Plan;
import io.hypervisor.assembler.plan.PlanPrinter;
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

/** {@code assemble verify IMAGE}: the static checklist on a written image, without booting it. */
@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Checks a written image without booting it (one read-only appliance).", "",
        "Kubernetes packages and binaries at the pinned version, containerd enabled, kubelet installed but "
            + "disabled, kernel modules and sysctls, no swap, every planned image in containerd's store with "
            + "intact blobs (and only those for the role), cloud-init datasources, SELinux/firewalld on dnf "
            + "images, hygiene and the must-not-bake list. Exit 1 when any check fails."},
    footer = {"", "Examples:",
        "  assemble verify out/hks-worker-1.34.2.qcow2 --recipe recipes/recipe-1.34-worker.yaml",
        "  assemble verify out/hks-worker-1.34.2.qcow2 --plan plan.json --lock worker.lock.json --json",
        "  assemble verify --boot out/hks-worker-1.34.2.qcow2 --recipe recipes/recipe-1.34-worker.yaml"})
final class VerifyCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Parameters(index = "0", paramLabel = "IMAGE", description = "The image file (qcow2 or raw).")
  Path image;

  @Option(names = "--recipe", paramLabel = "RECIPE", description = "What the image should be, from its recipe.")
  Path recipe;

  @Option(names = "--plan", paramLabel = "FILE", description = "... or from a plan written by assemble plan --json.")
  Path planFile;

  @Option(names = "--lock", paramLabel = "FILE", description = "Also check the lock's exact versions and image digests.")
  Path lockFile;

  @Option(names = "--boot", description = {"Boot a throw-away overlay of the image instead (qemu-system, KVM or TCG as "
      + "the host probe says, no network device, a NoCloud seed) and let the node check itself: cloud-init used "
      + "NoCloud, kubelet not started, containerd and qemu-guest-agent active, modules and sysctls live, no swap, "
      + "pinned versions, containerd lists exactly the planned images, a seeded image runs offline, fresh "
      + "machine-id and host keys; the host talks to the guest agent."})
  boolean boot;

  @Option(names = "--boot-timeout", paramLabel = "MINUTES",
      description = "How long the node may take to report (default 20 under TCG, 5 with KVM).")
  Integer bootTimeout;

  @Override
  public Integer call() {
    if ((recipe == null) == (planFile == null)) {
      throw AssemblerException.input("verify needs exactly one of --recipe and --plan", "e.g. --recipe RECIPE");
    }
    Plan plan;
    if (recipe != null) {
      plan = root.plan(recipe);
    } else {
      try {
        plan = PlanPrinter.readJson(io.hypervisor.assembler.model.SmallFiles.readString(planFile,
            io.hypervisor.assembler.model.SmallFiles.LOCK, "plan"));
      } catch (IOException | IllegalArgumentException e) {
        throw AssemblerException.input("cannot read the plan " + planFile + ": " + e.getMessage(),
            "write one with assemble plan RECIPE --json > plan.json");
      }
    }
    Lock lock = lockFile == null ? null : LockFile.read(lockFile);
    List<Check> checks;
    Map<String, Object> extra = new java.util.LinkedHashMap<>();
    extra.put("image", image.toString());
    if (boot) {
      BootVerifier v = new BootVerifier(root.settings(), root.events());
      BootVerifier.Options o = BootVerifier.Options.defaults(v.accelerator()).withCpus(root.settings().guestCpus());
      if (bootTimeout != null) {
        o = o.withTimeout(java.time.Duration.ofMinutes(bootTimeout));
      }
      BootVerifier.Result r = v.verify(image, plan, o);
      checks = r.checks();
      extra.put("bootSeconds", r.bootTime().toSeconds());
      extra.put("console", r.consoleLog().toString());
    } else {
      checks = new ImageCheck(root.settings(), root.events()).verify(image, plan, lock);
    }
    boolean ok = checks.stream().noneMatch(c -> c.status() == Check.Status.FAIL);
    extra.put("ok", ok);
    if (root.json) {
      Tables.json(root.out, boot ? "verify-boot" : "verify", checks, extra);
    } else {
      Tables.checks(root.out, checks);
      root.out.println();
      long failed = checks.stream().filter(c -> c.status() == Check.Status.FAIL).count();
      root.out.println(ok ? image + ": all " + checks.size() + " checks passed"
          : image + ": " + failed + " of " + checks.size() + " checks failed");
    }
    return ok ? ExitCodes.OK : ExitCodes.FAILED;
  }
}
