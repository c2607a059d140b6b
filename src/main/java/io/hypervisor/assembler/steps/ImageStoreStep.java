package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;

/**
 * containerd's image store written as files: the plan's images for this role (blobs and
 * meta.db, as the containerd package writes them) streamed from the content store into
 * {@code /var/lib/containerd}, merged with a meta.db the image may already have.
 */
public final class ImageStoreStep implements Step {
  /** The pulled images and how containerd must see them. */
  public record Options(ContainerdStore.Seed seed) {}

  static final String ROOT = "/var/lib/containerd";
  private final Options options;
  private final ContentStore store;

  public ImageStoreStep(Options options, ContentStore store) {
    this.options = options;
    this.store = store;
  }

  @Override
  public String name() {
    return "image-store";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    byte[] existing = image.read(ROOT + "/" + ContainerdStore.METADATA + "/meta.db");
    long size = options.seed().size();
    image.tarIn(new ImageSession.TarSource() {
      @Override
      public long size() {
        return size;
      }

      @Override
      public void writeTo(OutputStream out) throws IOException {
        TarWriter tar = new TarWriter(Channels.newChannel(out), store,
            options.seed().options().timestamp().getEpochSecond());
        options.seed().write(store, tar, "", existing);
        tar.finish();
      }
    }, ROOT, options.seed().images().size() + " images");
    return options.seed().images().size() + " images, " + (size >> 20) + " MiB" + (existing != null ? " (merged)" : "");
  }
}
