package io.hypervisor.assembler.cli;

import io.hypervisor.assembler.assemble.Doctor;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code assemble doctor}: can this host build, and with which accelerator? */
@Command(name = "doctor", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Checks whether this host can build images, and with which accelerator.", "",
        "Says, for each thing it tried, what happened: java, libguestfs-java and its JNI "
            + "library, qemu-img (version, zstd support), an appliance launch with KVM and, if "
            + "that fails or hangs past a timeout, with TCG (software emulation), and free space "
            + "in the work and cache directories. The accelerator found is remembered per host "
            + "(kernel and qemu version) and used by every build; --accel overrides it.", "",
        "Exit code 3 when a build cannot run here."},
    footer = {"", "Examples:", "  assemble doctor", "  assemble doctor --reprobe --json",
        "  assemble doctor --accel tcg"})
final class DoctorCommand implements Callable<Integer> {
  @ParentCommand
  AssembleCommand root;

  @Option(names = "--reprobe", description = "Probe the accelerators again instead of using the remembered answer.")
  boolean reprobe;

  @Option(names = "--launch-timeout", paramLabel = "SECONDS", defaultValue = "60",
      description = "How long a KVM launch may take after qemu starts before it counts as hung. Default: ${DEFAULT-VALUE}.")
  int launchTimeout;

  @Override
  public Integer call() {
    var settings = root.settings();
    settings = settings.withLaunchTimeout(java.time.Duration.ofSeconds(launchTimeout));
    Doctor.Result r = new Doctor(root.events()).run(settings, reprobe);
    if (root.json) {
      Tables.json(root.out, "doctor", r.checks(), java.util.Map.of(
          "accelerator", r.accelerator() == null ? "none" : r.accelerator().toString(),
          "canBuild", r.canBuild()));
    } else {
      Tables.checks(root.out, r.checks());
      root.out.println();
      root.out.println(r.canBuild() ? "this host can build images (accelerator: " + r.accelerator() + ")"
          : "this host cannot build images: see the FAIL lines above");
    }
    return r.canBuild() ? ExitCodes.OK : ExitCodes.HOST;
  }
}
