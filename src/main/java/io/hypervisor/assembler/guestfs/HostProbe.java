package io.hypervisor.assembler.guestfs;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Accelerator;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.model.Check.Status;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * Finds out whether this host can run a build and with which accelerator. Launching an appliance
 * under KVM can hang for ever on hosts where /dev/kvm exists but guests do not boot; the probe
 * launches in a child JVM, starts a clock when qemu appears (so the first-run supermin build is
 * not mistaken for a hang), kills the launch after the timeout, and then tries TCG. The answer is
 * remembered per host, keyed by kernel, qemu and libguestfs versions, so builds do not wait again.
 */
public final class HostProbe {
  /** Everything the probe found; {@code accelerator} is null when no launch worked. */
  public record Report(List<Check> checks, Accelerator accelerator) {
    public boolean canBuild() {
      return accelerator != null && checks.stream().noneMatch(c -> c.status() == Status.FAIL);
    }
  }

  /** What to probe and where. */
  public record Options(Accelerator requested, Path workDir, Path cacheDir, Duration launchTimeout,
      boolean reprobe) {}

  static final long MIN_FREE = 4L << 30;
  static final long WARN_FREE = 20L << 30;
  private static final Duration BUILD_ALLOWANCE = Duration.ofMinutes(10);

  private final EventSink events;

  public HostProbe(EventSink events) {
    this.events = events;
  }

  /** Runs every check (the appliance launch only if the libraries load). */
  public Report probe(Options o) {
    List<Check> checks = new ArrayList<>();
    checks.add(new Check("java", Runtime.version().feature() >= 17 ? Status.OK : Status.FAIL,
        System.getProperty("java.vm.name") + " " + Runtime.version()));
    Check lib = libguestfsJava();
    checks.add(lib);
    String qemuVersion = qemuImg(checks);
    checks.add(space("work directory", o.workDir()));
    checks.add(space("cache directory", o.cacheDir()));
    Accelerator accel = null;
    if (lib.status() == Status.OK) {
      accel = accelerator(o, qemuVersion, checks);
      if (accel == Accelerator.TCG) {
        checks.add(applianceKernel());
      }
    } else {
      checks.add(new Check("appliance", Status.FAIL, "not tried: libguestfs-java is not usable"));
    }
    return new Report(List.copyOf(checks), accel);
  }

  /** The accelerator to use: as requested, remembered, or found by launching. */
  public Accelerator accelerator(Options o) {
    // An accelerator the user named is used as named: probing it would cost an appliance launch
    // (tens of seconds under TCG) on every build, verify and boot, and a wrong choice fails at
    // the real launch with the same message. doctor --accel X still probes it.
    if (o.requested() == Accelerator.KVM || o.requested() == Accelerator.TCG) {
      return o.requested();
    }
    return probe(o).accelerator();
  }

  private static Check libguestfsJava() {
    try {
      Class<?> c = Class.forName("com.redhat.et.libguestfs.GuestFS");
      String jar = Optional.ofNullable(c.getProtectionDomain().getCodeSource())
          .map(s -> s.getLocation().getPath()).orElse("?");
      return new Check("libguestfs-java", Status.OK, jar + ", JNI library guestfs_jni loaded");
    } catch (ClassNotFoundException | NoClassDefFoundError e) {
      return new Check("libguestfs-java", Status.FAIL,
          "com.redhat.et.libguestfs.GuestFS not on the class path (install libguestfs-java)");
    } catch (UnsatisfiedLinkError | ExceptionInInitializerError e) {
      return new Check("libguestfs-java", Status.FAIL, "JNI library guestfs_jni does not load: "
          + e.getMessage() + " (install libguestfs-java; it lives in /usr/lib/<triplet>/jni)");
    }
  }

  /** Whether TCG launches boot the appliance's kernel unpacked ({@link PvhAppliance}), and why not. */
  private static Check applianceKernel() {
    com.redhat.et.libguestfs.GuestFS g = null;
    try {
      g = new com.redhat.et.libguestfs.GuestFS();
      PvhAppliance.Choice c = PvhAppliance.choose(g);
      return new Check("appliance kernel", c.dir().isPresent() ? Status.OK : Status.WARN, c.dir().isPresent()
          ? c.reason() + ": no in-guest decompression (~3 s less per TCG launch)"
          : c.reason() + " (each TCG launch spends ~3 s unpacking its kernel)");
    } catch (com.redhat.et.libguestfs.LibGuestFSException | RuntimeException e) {
      return new Check("appliance kernel", Status.WARN, "not checked: " + e.getMessage());
    } finally {
      if (g != null) {
        try {
          g.close();
        } catch (com.redhat.et.libguestfs.LibGuestFSException ignored) {
          // a handle that never launched
        }
      }
    }
  }

  private static String qemuImg(List<Check> checks) {
    try {
      String out = run(List.of("qemu-img", "--version"), Duration.ofSeconds(20)).trim();
      String version = out.lines().findFirst().orElse("").replaceAll(".*version ([0-9.]+).*", "$1");
      Path tmp = Files.createTempFile("assemble-probe", ".qcow2");
      try {
        Files.delete(tmp);
        run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compression_type=zstd",
            tmp.toString(), "1M"), Duration.ofSeconds(20));
        checks.add(new Check("qemu-img", Status.OK, "version " + version + ", zstd compression supported"));
      } catch (IOException e) {
        checks.add(new Check("qemu-img", Status.WARN, "version " + version
            + ", no zstd compression (images will be zlib-compressed): " + e.getMessage()));
      } finally {
        Files.deleteIfExists(tmp);
      }
      return version;
    } catch (IOException e) {
      checks.add(new Check("qemu-img", Status.FAIL, "not usable: " + e.getMessage()
          + " (install qemu-utils)"));
      return "unknown";
    }
  }

  private static Check space(String what, Path dir) {
    try {
      Path p = dir.toAbsolutePath();
      while (p != null && !Files.exists(p)) {
        p = p.getParent();
      }
      long free = Files.getFileStore(p).getUsableSpace();
      String detail = dir + ": " + (free >> 30) + " GiB free";
      return new Check(what, free < MIN_FREE ? Status.FAIL : free < WARN_FREE ? Status.WARN : Status.OK,
          free < MIN_FREE ? detail + " (a build needs at least " + (MIN_FREE >> 30) + " GiB)" : detail);
    } catch (IOException | RuntimeException e) {
      return new Check(what, Status.FAIL, dir + ": " + e.getMessage());
    }
  }

  private Accelerator accelerator(Options o, String qemuVersion, List<Check> checks) {
    String key = "kernel=" + System.getProperty("os.version") + " qemu=" + qemuVersion;
    Path memo = o.cacheDir().resolve("host-probe.properties");
    if (o.requested() == Accelerator.AUTO && !o.reprobe()) {
      Optional<Properties> remembered = read(memo).filter(p -> key.equals(p.getProperty("key")));
      if (remembered.isPresent()) {
        Properties p = remembered.get();
        checks.add(new Check("appliance (kvm)", status(p.getProperty("kvm.status")), p.getProperty("kvm")
            + " (remembered from " + p.getProperty("at") + "; --reprobe to try again)"));
        checks.add(new Check("appliance (tcg)", status(p.getProperty("tcg.status")), p.getProperty("tcg")
            + " (remembered)"));
        String a = p.getProperty("accelerator");
        return conclude(a.isEmpty() ? null : Accelerator.parse(a), checks);
      }
    }
    Properties p = new Properties();
    p.setProperty("key", key);
    p.setProperty("at", Instant.now().toString());
    Accelerator chosen = null;
    if (o.requested() != Accelerator.TCG) {
      Check kvm = kvmUsable().map(why -> new Check("appliance (kvm)", Status.WARN, why))
          .orElseGet(() -> launch(Accelerator.KVM, o.launchTimeout()));
      checks.add(kvm);
      p.setProperty("kvm", kvm.detail());
      p.setProperty("kvm.status", kvm.status().name());
      if (kvm.status() == Status.OK) {
        chosen = Accelerator.KVM;
      }
    } else {
      p.setProperty("kvm", "not tried (--accel tcg)");
      p.setProperty("kvm.status", Status.WARN.name());
    }
    if (chosen == null && o.requested() != Accelerator.KVM) {
      Check tcg = launch(Accelerator.TCG, BUILD_ALLOWANCE);
      checks.add(tcg);
      p.setProperty("tcg", tcg.detail());
      p.setProperty("tcg.status", tcg.status().name());
      if (tcg.status() == Status.OK) {
        chosen = Accelerator.TCG;
      }
    } else {
      p.setProperty("tcg", chosen != null ? "not needed" : "not tried (--accel kvm)");
      p.setProperty("tcg.status", Status.OK.name());
    }
    p.setProperty("accelerator", chosen == null ? "" : chosen.toString());
    if (o.requested() == Accelerator.AUTO) {
      write(memo, p);
    }
    return conclude(chosen, checks);
  }

  /** Adds the verdict line; a KVM failure is only a warning when software emulation works. */
  private static Accelerator conclude(Accelerator chosen, List<Check> checks) {
    if (chosen == Accelerator.TCG) {
      checks.replaceAll(c -> c.name().equals("appliance (kvm)") && c.status() == Status.FAIL
          ? new Check(c.name(), Status.WARN, c.detail()) : c);
      checks.add(new Check("accelerator", Status.WARN,
          "tcg (software emulation): builds run much slower than with kvm"));
    } else if (chosen == Accelerator.KVM) {
      checks.add(new Check("accelerator", Status.OK, "kvm"));
    }
    return chosen;
  }

  private static Status status(String s) {
    return s == null ? Status.WARN : Status.valueOf(s);
  }

  /** Why KVM cannot even be tried, or empty. */
  private static Optional<String> kvmUsable() {
    Path kvm = Path.of("/dev/kvm");
    if (!Files.exists(kvm)) {
      return Optional.of("not tried: /dev/kvm does not exist");
    }
    if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
      return Optional.of("not tried: no read/write access to /dev/kvm (join the kvm group)");
    }
    return Optional.empty();
  }

  /** Launches an appliance in a child JVM; the timeout counts from the moment qemu starts. */
  Check launch(Accelerator accel, Duration timeout) {
    String name = "appliance (" + accel + ")";
    events.info("probing: launching a libguestfs appliance with " + accel
        + " (timeout " + timeout.toSeconds() + " s after qemu starts)");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString(), "-cp", System.getProperty("java.class.path"), LaunchProbe.class.getName(),
        accel.toString());
    pb.environment().remove("LIBGUESTFS_BACKEND_SETTINGS");
    pb.environment().remove("LIBGUESTFS_BACKEND");
    pb.redirectErrorStream(true);
    long start = System.nanoTime();
    Process proc;
    try {
      proc = pb.start();
    } catch (IOException e) {
      return new Check(name, Status.FAIL, "cannot start the probe: " + e.getMessage());
    }
    StringBuilder out = new StringBuilder();
    Thread reader = drain(proc.getInputStream(), out);
    Long qemuSeen = null;
    try {
      while (true) {
        if (proc.waitFor(200, TimeUnit.MILLISECONDS)) {
          break;
        }
        long now = System.nanoTime();
        if (qemuSeen == null && proc.descendants().anyMatch(HostProbe::isQemu)) {
          qemuSeen = now;
        }
        long since = qemuSeen != null ? qemuSeen : start;
        Duration limit = qemuSeen != null ? timeout : BUILD_ALLOWANCE;
        if (now - since > limit.toNanos()) {
          kill(proc);
          return new Check(name, Status.FAIL, qemuSeen != null
              ? "hung: no appliance " + timeout.toSeconds() + " s after qemu started (killed)"
              : "qemu did not start within " + BUILD_ALLOWANCE.toMinutes() + " min (killed)");
        }
      }
      reader.join(2000);
    } catch (InterruptedException e) {
      kill(proc);
      Thread.currentThread().interrupt();
      return new Check(name, Status.FAIL, "interrupted");
    }
    double secs = (System.nanoTime() - start) / 1e9;
    String text = out.toString().trim();
    if (proc.exitValue() == 0 && text.lines().anyMatch(l -> l.startsWith("ok "))) {
      String v = text.lines().filter(l -> l.startsWith("ok ")).findFirst().orElse("ok ?").substring(3);
      return new Check(name, Status.OK, String.format("launched in %.1f s (libguestfs %s)", secs, v));
    }
    return new Check(name, Status.FAIL, String.format("failed after %.1f s: %s", secs, failure(text)));
  }

  private static boolean isQemu(ProcessHandle h) {
    return h.info().command().map(c -> c.contains("qemu-system") || c.contains("qemu-kvm"))
        .orElse(false);
  }

  private static void kill(Process proc) {
    proc.descendants().forEach(ProcessHandle::destroyForcibly);
    proc.destroyForcibly();
    try {
      proc.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Thread drain(InputStream in, StringBuilder out) {
    Thread t = new Thread(() -> {
      try {
        String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        synchronized (out) {
          out.append(s);
        }
      } catch (IOException ignored) {
        // the process was killed; its output is not needed
      }
    }, "probe-output");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /**
   * What a failed launch said: the exception's message (libguestfs's own words, e.g. qemu's error)
   * rather than the stack trace's last line, which only names the probe's own frame.
   */
  static String failure(String output) {
    String marker = "Exception: ";
    return output.lines().filter(l -> l.contains(marker)).findFirst()
        .map(l -> l.substring(l.indexOf(marker) + marker.length()).trim())
        .orElse(output.lines().reduce((a, b) -> b).orElse("no output"));
  }

  /** Runs a short command, returning its output; non-zero exit is an IOException with the output. */
  static String run(List<String> cmd, Duration timeout) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    StringBuilder out = new StringBuilder();
    Thread t = drain(p.getInputStream(), out);
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", cmd) + " timed out");
      }
      t.join(1000);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(out.toString().trim());
    }
    return out.toString();
  }

  private static Optional<Properties> read(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("key") == null || p.getProperty("accelerator") == null ? Optional.empty()
          : Optional.of(p);
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static void write(Path file, Properties p) {
    try {
      Files.createDirectories(file.getParent());
      Path tmp = Files.createTempFile(file.getParent(), "host-probe", ".tmp");
      try (var out = Files.newOutputStream(tmp)) {
        p.store(out, "assemble host probe: which accelerator works on this host");
      }
      Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      // Not fatal: the next build probes again.
    }
  }

  /** The key and values remembered, for tests. */
  static Map<String, String> remembered(Path cacheDir) {
    return read(cacheDir.resolve("host-probe.properties")).map(p -> {
      Map<String, String> m = new java.util.TreeMap<>();
      p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
      return m;
    }).orElse(Map.of());
  }
}
