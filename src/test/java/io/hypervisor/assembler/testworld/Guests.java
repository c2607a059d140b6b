package io.hypervisor.assembler.testworld;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.LibGuestFSException;
import io.hypervisor.assembler.assemble.Settings;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.HostProbe;
import io.hypervisor.assembler.model.Accelerator;
import java.nio.file.Path;
import java.util.Map;

/** libguestfs handles for tests, with the accelerator the host probe chose (remembered per host). */
public final class Guests {
  private static Accelerator accelerator;

  /**
   * Virtual CPUs per guest in tests: the suite runs two or three TCG guests at once on two cores,
   * and a guest with two emulated CPUs on an oversubscribed host burns time spinning on its own
   * locks (measured: 20 % more CPU for the same suite with two).
   */
  public static final String CPUS = "1";

  private Guests() {}

  public static synchronized Accelerator accelerator() {
    if (accelerator == null) {
      Settings s = Settings.defaults(System.getenv());
      accelerator = new HostProbe(EventSink.NONE).accelerator(new HostProbe.Options(Accelerator.AUTO,
          s.workDir(), s.cacheDir(), s.launchTimeout(), false));
      if (accelerator == null) {
        throw new IllegalStateException("no libguestfs accelerator works on this host: run assemble doctor");
      }
    }
    return accelerator;
  }

  /** A launched read-only handle on a disk image; close it with {@link #close(GuestFS)}. */
  public static GuestFS openReadOnly(Path image) throws LibGuestFSException {
    GuestFS g = new GuestFS();
    if (accelerator() == Accelerator.TCG) {
      g.set_backend_setting("force_tcg", "1");
    }
    g.add_drive_opts(image.toString(), Map.of("readonly", Boolean.TRUE, "format", "qcow2"));
    launch(g);
    return g;
  }

  private static final java.util.concurrent.atomic.AtomicInteger LAUNCHES = new java.util.concurrent.atomic.AtomicInteger();

  /** Launches a handle the test set up itself (on the product's TCG appliance), counted for the run's report. */
  public static void launch(GuestFS g) throws LibGuestFSException {
    LAUNCHES.incrementAndGet();
    if (accelerator() == Accelerator.TCG) {
      io.hypervisor.assembler.guestfs.PvhAppliance.apply(g); // as the product's sessions do: ~3 s less per launch
    }
    g.launch();
  }

  /** Appliances tests launched directly (not through the product's GuestfsSession). */
  public static int launches() {
    return LAUNCHES.get();
  }

  public static void close(GuestFS g) {
    try {
      g.shutdown();
      g.close();
    } catch (LibGuestFSException ignored) {
      // read-only: nothing to lose
    }
  }
}
