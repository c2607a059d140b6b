package io.hypervisor.assembler.assemble;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.GuestfsSession;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Check;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.plan.Plan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code assemble verify IMAGE}: opens the image read-only (one appliance) and runs the {@link Verifier}. */
public final class ImageCheck {
  private final Settings settings;
  private final EventSink events;

  public ImageCheck(Settings settings, EventSink events) {
    this.settings = settings;
    this.events = events;
  }

  public List<Check> verify(Path image, Plan plan, Lock lock) {
    if (!Files.isRegularFile(image)) {
      throw AssemblerException.input("no image at " + image, "give the path of a built image");
    }
    try (GuestfsSession s = GuestfsSession.open(GuestfsSession.Options.readOnly(image, DiskFormat.of(image),
        Locker.accelerator(settings, events), settings.launchTimeout()).withCpus(settings.guestCpus()), events)) {
      return new Verifier(s, plan, lock).run(events);
    } catch (IOException e) {
      throw AssemblerException.failed("verifying " + image + ": " + e.getMessage(), "is it a disk image?");
    }
  }
}
