package io.hypervisor.assembler.guestfs;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.LibGuestFSException;
import io.hypervisor.assembler.model.Accelerator;
import java.util.Map;

/**
 * Child-process entry point that launches one libguestfs appliance with the given accelerator and
 * prints {@code ok <version>}. It runs in its own JVM so that the parent can kill a launch that
 * hangs (KVM on some hosts) together with its qemu.
 */
public final class LaunchProbe {
  private LaunchProbe() {}

  public static void main(String[] args) throws LibGuestFSException {
    Accelerator accel = Accelerator.parse(args[0]);
    // The parent clears LIBGUESTFS_BACKEND_SETTINGS, so the accelerator is exactly the one asked.
    GuestFS g = new GuestFS();
    try {
      g.set_backend("direct");
      if (accel == Accelerator.TCG) {
        g.set_backend_setting("force_tcg", "1");
      }
      g.add_drive_scratch(16L << 20, Map.of());
      g.launch();
      var v = g.version();
      g.shutdown();
      System.out.println("ok " + v.major + "." + v.minor + "." + v.release);
    } finally {
      g.close();
    }
  }
}
