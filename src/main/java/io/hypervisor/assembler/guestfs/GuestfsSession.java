package io.hypervisor.assembler.guestfs;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.LibGuestFSException;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Accelerator;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A disk image opened through one libguestfs appliance (direct backend): the disk (read-only, or
 * a work overlay opened read-write with cachemode=unsafe), optional read-only attachments (tar
 * files as raw drives, for bulk data), inspection, and every file system mounted where the guest
 * mounts it. A watchdog kills the appliance's qemu when the launch takes longer than the timeout
 * (KVM hangs on some hosts), so the build fails instead of waiting forever.
 */
public final class GuestfsSession implements ImageSession {
  /** How to open the image. */
  public record Options(Path disk, String format, boolean readOnly, List<Path> attachments, Accelerator accelerator,
      int memoryMiB, int cpus, Duration launchTimeout) {
    public Options {
      attachments = List.copyOf(attachments);
    }

    /** Reading a disk's files: read-only, no attachments, defaults for memory and CPUs. */
    public static Options readOnly(Path disk, String format, Accelerator accelerator, Duration launchTimeout) {
      return new Options(disk, format, true, List.of(), accelerator, 1280, 2, launchTimeout);
    }
  }

  private final GuestFS g;
  private final OsInfo os;
  private final EventSink events;
  private final List<String> mountOrder;
  private boolean closed;

  private GuestfsSession(GuestFS g, OsInfo os, List<String> mountOrder, EventSink events) {
    this.g = g;
    this.os = os;
    this.mountOrder = mountOrder;
    this.events = events;
  }

  /** Launches the appliance, inspects the disk and mounts its file systems. */
  public static GuestfsSession open(Options o, EventSink events) throws IOException {
    GuestFS g;
    try {
      g = new GuestFS(Map.of("close_on_exit", Boolean.TRUE));
    } catch (LibGuestFSException | UnsatisfiedLinkError | NoClassDefFoundError e) {
      throw new IOException("cannot create a libguestfs handle: " + e.getMessage() + " (run assemble doctor)", e);
    }
    boolean ok = false;
    try (EventSink.Step step = events.step("launch appliance", o.disk().getFileName() + " (" + o.accelerator() + ")")) {
      g.set_backend("direct");
      if (o.accelerator() == Accelerator.TCG) {
        g.set_backend_setting("force_tcg", "1");
      }
      g.set_memsize(o.memoryMiB());
      g.set_smp(o.cpus());
      g.set_network(false);
      Map<String, Object> disk = new HashMap<>();
      disk.put("format", o.format());
      if (o.readOnly()) {
        disk.put("readonly", Boolean.TRUE);
      } else {
        disk.put("cachemode", "unsafe");
        disk.put("discard", "besteffort");
      }
      g.add_drive_opts(o.disk().toString(), disk);
      for (Path a : o.attachments()) {
        g.add_drive_opts(a.toString(), Map.of("format", "raw", "readonly", Boolean.TRUE));
      }
      launch(g, o.launchTimeout());
      String[] roots = g.inspect_os();
      if (roots.length != 1) {
        throw new IOException("inspecting " + o.disk() + ": found " + roots.length
            + " operating systems; expected exactly one");
      }
      String root = roots[0];
      Map<String, String> mps = g.inspect_get_mountpoints(root);
      List<String> order = new ArrayList<>(mps.keySet());
      // Parents before children, as inspect_mount_root does: the map is unordered.
      order.sort(Comparator.comparingInt(String::length).thenComparing(Comparator.naturalOrder()));
      for (String mp : order) {
        try {
          if (o.readOnly()) {
            g.mount_ro(mps.get(mp), mp);
          } else {
            g.mount(mps.get(mp), mp);
          }
        } catch (LibGuestFSException e) {
          if (!mp.equals("/")) {
            events.warn("could not mount " + mps.get(mp) + " on " + mp + ": " + e.getMessage());
            continue;
          }
          throw e;
        }
      }
      OsInfo os = new OsInfo(g.inspect_get_type(root), g.inspect_get_distro(root), g.inspect_get_major_version(root),
          g.inspect_get_minor_version(root), g.inspect_get_arch(root), g.inspect_get_package_format(root), root, mps);
      step.ok(os.distro() + " " + os.major() + "." + os.minor() + " " + os.arch());
      ok = true;
      return new GuestfsSession(g, os, order, events);
    } catch (LibGuestFSException e) {
      throw new IOException("opening " + o.disk() + " with libguestfs: " + e.getMessage(), e);
    } finally {
      if (!ok) {
        closeHandle(g);
      }
    }
  }

  /** launch() with a watchdog: past the timeout, this JVM's qemu children are killed and launch fails. */
  private static void launch(GuestFS g, Duration timeout) throws LibGuestFSException, IOException {
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "appliance-watchdog");
      t.setDaemon(true);
      return t;
    });
    AtomicBoolean fired = new AtomicBoolean();
    ScheduledFuture<?> f = timer.schedule(() -> {
      fired.set(true);
      ProcessHandle.current().descendants()
          .filter(h -> h.info().command().map(c -> c.contains("qemu-system") || c.contains("qemu-kvm")).orElse(false))
          .forEach(ProcessHandle::destroyForcibly);
    }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    try {
      g.launch();
    } catch (LibGuestFSException e) {
      if (fired.get()) {
        throw new IOException("the appliance did not start within " + timeout.toSeconds()
            + " s and was killed; run assemble doctor --reprobe (KVM may hang on this host; --accel tcg)", e);
      }
      throw e;
    } finally {
      f.cancel(false);
      timer.shutdownNow();
    }
  }

  @Override
  public OsInfo os() {
    return os;
  }

  private IOException fail(String action, String path, LibGuestFSException e) {
    return new IOException(action + " " + path + " in the image: " + e.getMessage(), e);
  }

  @Override
  public byte[] read(String path) throws IOException {
    try {
      if (!g.is_file(path, Map.of("followsymlinks", Boolean.TRUE))) {
        return null;
      }
      // read_file's Java binding returns a String, which would corrupt binary files (keyrings);
      // download keeps the bytes.
      Path tmp = java.nio.file.Files.createTempFile("assemble-read", ".bin");
      try {
        g.download(path, tmp.toString());
        return java.nio.file.Files.readAllBytes(tmp);
      } finally {
        java.nio.file.Files.deleteIfExists(tmp);
      }
    } catch (LibGuestFSException e) {
      throw fail("reading", path, e);
    }
  }

  @Override
  public List<String> list(String dir) throws IOException {
    try {
      if (!g.is_dir(dir, Map.of("followsymlinks", Boolean.TRUE))) {
        return List.of();
      }
      String[] names = g.ls(dir);
      Arrays.sort(names);
      return List.of(names);
    } catch (LibGuestFSException e) {
      throw fail("listing", dir, e);
    }
  }

  @Override
  public boolean exists(String path) throws IOException {
    try {
      return g.exists(path);
    } catch (LibGuestFSException e) {
      throw fail("checking", path, e);
    }
  }

  @Override
  public void write(String path, byte[] content, int mode) throws IOException {
    try {
      String parent = path.substring(0, Math.max(1, path.lastIndexOf('/')));
      g.mkdir_p(parent);
      g.write(path, content);
      g.chmod(mode, path);
    } catch (LibGuestFSException e) {
      throw fail("writing", path, e);
    }
  }

  @Override
  public void mkdirs(String path) throws IOException {
    try {
      g.mkdir_p(path);
    } catch (LibGuestFSException e) {
      throw fail("creating directory", path, e);
    }
  }

  @Override
  public void symlink(String target, String link) throws IOException {
    try {
      g.mkdir_p(link.substring(0, Math.max(1, link.lastIndexOf('/'))));
      g.ln_sf(target, link);
    } catch (LibGuestFSException e) {
      throw fail("linking", link, e);
    }
  }

  @Override
  public void remove(String path) throws IOException {
    try {
      g.rm_rf(path);
    } catch (LibGuestFSException e) {
      throw fail("removing", path, e);
    }
  }

  @Override
  public String sh(String script) throws IOException {
    try {
      return g.sh(script);
    } catch (LibGuestFSException e) {
      throw new IOException("running a script in the image: " + e.getMessage(), e);
    }
  }

  @Override
  public String command(List<String> argv) throws IOException {
    try {
      return g.command(argv.toArray(String[]::new));
    } catch (LibGuestFSException e) {
      throw new IOException("running " + argv.get(0) + " in the image: " + e.getMessage(), e);
    }
  }

  private static void closeHandle(GuestFS g) {
    try {
      g.close();
    } catch (LibGuestFSException e) {
      // close() only fails on an already closed handle; nothing is left to release
    }
  }

  /** The appliance device of the i-th attachment (/dev/sdb for the first). */
  public static String attachmentDevice(int i) {
    return "/dev/sd" + (char) ('b' + i);
  }

  /** The underlying handle, for operations this interface does not cover (the assembly's own steps). */
  GuestFS handle() {
    return g;
  }

  /** Trims and unmounts every file system and shuts the appliance down, surfacing write-back errors. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      g.umount_all();
      g.shutdown();
    } catch (LibGuestFSException e) {
      throw new IOException("closing the image: " + e.getMessage(), e);
    } finally {
      closeHandle(g);
      events.debug("appliance closed (" + mountOrder.size() + " file systems)");
    }
  }
}
