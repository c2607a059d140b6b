package io.hypervisor.assembler.guestfs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The probe's reading of a failed launch's output. */
class HostProbeTest {
  @Test
  void aFailedLaunchIsDescribedByItsExceptionNotItsLastStackFrame() {
    String out = "Exception in thread \"main\" com.redhat.et.libguestfs.LibGuestFSException: "
        + "qemu-system-x86_64: failed to initialize kvm: Device or resource busy\n"
        + "\tat com.redhat.et.libguestfs.GuestFS._launch(Native Method)\n"
        + "\tat io.hypervisor.assembler.guestfs.LaunchProbe.main(LaunchProbe.java:26)";
    assertEquals("qemu-system-x86_64: failed to initialize kvm: Device or resource busy", HostProbe.failure(out));
    assertEquals("killed", HostProbe.failure("starting\nkilled"));
    assertEquals("no output", HostProbe.failure(""));
  }
}
