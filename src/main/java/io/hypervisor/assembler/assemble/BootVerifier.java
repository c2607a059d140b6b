package io.hypervisor.assembler.assemble;

import com.fasterxml.jackson.databind.JsonNode;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.plan.Plan;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code assemble verify --boot}: boots a throw-away overlay of the image under qemu-system the
 * way the platform will (its own bootloader through SeaBIOS, virtio disk, a NoCloud seed, a
 * serial console, qemu-guest-agent's virtio-serial channel) and with no network device, lets the
 * node check itself (see {@link BootChecks}), reads the results off the console, asks the guest
 * agent for ping and info, and always kills qemu and removes the overlay.
 */
public final class BootVerifier {
  /** How long to wait for the node's checks (TCG needs minutes), and the VM's size. */
  public record Options(Duration timeout, int memoryMiB, int cpus) {
    /** Generous for software emulation, short where KVM works. */
    public static Options defaults(Accelerator accel) {
      return new Options(accel == Accelerator.KVM ? Duration.ofMinutes(5) : Duration.ofMinutes(20), 2048, 2);
    }

    public Options withTimeout(Duration t) {
      return new Options(t, memoryMiB, cpus);
    }

    public Options withCpus(int n) {
      return new Options(timeout, memoryMiB, n);
    }
  }

  /** The checks in order (host side last), how long the node took to report, and where the console log went (kept). */
  public record Result(List<Check> checks, Duration bootTime, Path consoleLog) {}

  private static final String CONSOLE = "/dev/ttyS0";

  private final Settings settings;
  private final EventSink events;

  public BootVerifier(Settings settings, EventSink events) {
    this.settings = settings;
    this.events = events;
  }

  /** The accelerator this host can boot with (the host probe's answer). */
  public Accelerator accelerator() {
    return Locker.accelerator(settings, events);
  }

  public Result verify(Path image, Plan plan, Options o) {
    if (!Files.isRegularFile(image)) {
      throw AssemblerException.input("no image at " + image, "give the path of a built image");
    }
    Accelerator accel = accelerator();
    Path dir;
    try {
      dir = WorkDirs.create(settings.workDir(), "boot-");
    } catch (IOException e) {
      throw AssemblerException.host("cannot create a boot directory under " + settings.workDir() + ": "
          + e.getMessage(), "check that --work DIR is writable");
    }
    // Named after the image: boots of several images may share a work directory.
    Path consoleLog = settings.workDir().resolve(image.getFileName() + ".boot-console.log");
    Process[] qemu = new Process[1];
    Thread cleanup = new Thread(() -> stop(qemu[0], dir), "assemble-boot-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      return boot(image, plan, o, accel, dir, consoleLog, qemu);
    } catch (IOException e) {
      throw AssemblerException.failed("booting " + image + ": " + e.getMessage(),
          "the console log is " + consoleLog + "; --debug shows more");
    } finally {
      stop(qemu[0], dir);
      try {
        Runtime.getRuntime().removeShutdownHook(cleanup);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs anyway
      }
    }
  }

  private Result boot(Path image, Plan plan, Options o, Accelerator accel, Path dir, Path consoleLog,
      Process[] qemu) throws IOException {
    Path overlay = dir.resolve("overlay.qcow2");
    QemuImg.overlay(image.toAbsolutePath(), DiskFormat.of(image), overlay, 0);
    Path seed = dir.resolve("seed.iso");
    writeSeed(dir, seed, BootChecks.userData(plan, CONSOLE), BootChecks.metaData("assemble-" + UUID.randomUUID()));
    Path qga = dir.resolve("qga.sock");
    List<String> cmd = command(accel, o, overlay, seed, qga);
    events.debug("boot: " + String.join(" ", cmd));

    List<Check> checks = new ArrayList<>();
    Deque<String> tail = new ArrayDeque<>();
    CompletableFuture<Integer> done = new CompletableFuture<>();
    long t0 = System.nanoTime();
    long[] firstCheck = {0};
    try (EventSink.Step step = events.step("boot", image.getFileName() + " (" + accel.name().toLowerCase()
        + ", no network)")) {
      qemu[0] = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      Process p = qemu[0];
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            Writer log = Files.newBufferedWriter(consoleLog, StandardCharsets.UTF_8)) {
          for (String line = r.readLine(); line != null; line = r.readLine()) {
            log.write(line);
            log.write('\n');
            log.flush();
            synchronized (tail) {
              tail.addLast(line);
              if (tail.size() > 30) {
                tail.removeFirst();
              }
            }
            BootChecks.Line l = BootChecks.parse(line).orElse(null);
            if (l == null) {
              continue;
            }
            if (l.done()) {
              done.complete(Integer.parseInt(l.name()));
            } else {
              synchronized (checks) {
                if (checks.isEmpty()) {
                  firstCheck[0] = System.nanoTime();
                }
                checks.add(l.check());
              }
              events.info("  " + l.status() + "  " + l.name() + "  " + l.detail());
            }
          }
        } catch (IOException | RuntimeException e) {
          done.completeExceptionally(e);
        }
        done.complete(-1); // qemu ended before the checks did
      }, "assemble-boot-console");
      reader.setDaemon(true);
      reader.start();

      int reported;
      try {
        reported = done.get(o.timeout().toSeconds(), TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        reported = -2;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while the node booted");
      } catch (ExecutionException e) {
        throw new IOException("reading the serial console: " + AssemblerException.describe(e.getCause()), e.getCause());
      }
      Duration bootTime = Duration.ofNanos((firstCheck[0] == 0 ? System.nanoTime() : firstCheck[0]) - t0);
      List<Check> out = new ArrayList<>();
      String last;
      synchronized (tail) {
        last = String.join(" / ", tail.stream().skip(Math.max(0, tail.size() - 8)).toList());
      }
      synchronized (checks) {
        if (reported == -2) {
          out.add(Check.fail("boot", "no complete report within " + (o.timeout().toSeconds() % 60 == 0
              ? o.timeout().toMinutes() + " min" : o.timeout().toSeconds() + " s") + " (" + checks.size()
              + " checks seen); console ends: " + last));
        } else if (reported == -1) {
          out.add(Check.fail("boot", "qemu exited (" + exit(p) + ") before the node reported; console ends: " + last));
        } else {
          out.add(Check.ok("boot", "BIOS to the image's own bootloader (" + accel.name().toLowerCase()
              + "), no network device; checks began after " + bootTime.toSeconds() + " s"));
          if (reported != checks.size()) {
            out.add(Check.fail("boot report", "the node said " + reported + " checks, the console carried "
                + checks.size()));
          }
        }
        out.addAll(checks);
      }
      if (reported >= 0) {
        out.add(agent(qga));
      }
      long failed = out.stream().filter(Check::failed).count();
      if (failed == 0) {
        step.ok(out.size() + " checks passed in " + bootTime.toSeconds() + " s");
      } else {
        step.ok(failed + " of " + out.size() + " checks failed");
      }
      return new Result(out, bootTime, consoleLog);
    }
  }

  /** The host's side of the agent check: guest-sync, guest-ping, guest-info. */
  private static Check agent(Path socket) {
    try (GuestAgent a = GuestAgent.connect(socket)) {
      if (!a.sync(Duration.ofSeconds(30))) {
        return Check.fail("guest agent", "no answer to guest-sync on org.qemu.guest_agent.0 within 30 s");
      }
      a.execute("guest-ping", Duration.ofSeconds(10));
      JsonNode info = a.execute("guest-info", Duration.ofSeconds(10));
      return Check.ok("guest agent", "guest-ping answered; qemu-guest-agent " + info.path("version").asText("?")
          + ", " + info.path("supported_commands").size() + " commands");
    } catch (IOException e) {
      return Check.fail("guest agent", e.getMessage());
    }
  }

  /** qemu-system for this host: the accelerator, virtio disk and seed, serial console, agent channel, no NIC. */
  static List<String> command(Accelerator accel, Options o, Path overlay, Path seed, Path qga) {
    List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64", "-name", "assemble-boot-verify",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-machine", "pc", "-accel", accel == Accelerator.KVM ? "kvm" : "tcg,thread=multi",
        "-cpu", accel == Accelerator.KVM ? "host" : "max",
        "-m", Integer.toString(o.memoryMiB()), "-smp", Integer.toString(o.cpus()),
        "-drive", "file=" + overlay + ",if=virtio,format=qcow2,cache=unsafe,discard=unmap",
        "-drive", "file=" + seed + ",if=virtio,format=raw,readonly=on",
        "-nic", "none",
        "-serial", "stdio",
        "-chardev", "socket,id=qga0,path=" + qga + ",server=on,wait=off",
        "-device", "virtio-serial-pci",
        "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
        "-device", "virtio-rng-pci"));
    return cmd;
  }

  /** The NoCloud seed: an ISO 9660 volume labelled {@code cidata} with user-data and meta-data. */
  static void writeSeed(Path dir, Path iso, String userData, String metaData) throws IOException {
    Path files = dir.resolve("seed");
    Files.createDirectories(files);
    Files.writeString(files.resolve("user-data"), userData);
    Files.writeString(files.resolve("meta-data"), metaData);
    try {
      QemuImg.run(List.of("genisoimage", "-quiet", "-output", iso.toString(), "-volid", "cidata", "-joliet",
          "-rock", files.resolve("user-data").toString(), files.resolve("meta-data").toString()), 120);
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().contains("No such file")) {
        throw AssemblerException.host("genisoimage is not installed: it writes the NoCloud seed",
            "apt-get install genisoimage");
      }
      throw e;
    }
  }

  private static String exit(Process p) {
    try {
      return p.waitFor(5, TimeUnit.SECONDS) ? "exit code " + p.exitValue() : "still running";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  /** Kills qemu (no graceful shutdown: the overlay is thrown away) and removes the boot directory. */
  private static void stop(Process qemu, Path dir) {
    if (qemu != null) {
      qemu.destroyForcibly();
      try {
        qemu.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    WorkDirs.delete(dir);
  }
}
