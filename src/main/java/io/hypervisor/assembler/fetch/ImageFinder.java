package io.hypervisor.assembler.fetch;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.ImageSource;
import io.hypervisor.assembler.oci.Puller;
import io.hypervisor.assembler.oci.StoreSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;

/**
 * Where an image comes from, in this order, for every command that needs one (a build, pull,
 * seed): the content store (a reference pinned by digest whose blobs are all there), an image
 * archive of {@code --images-dir} or the recipe that holds it by name, and only then a registry,
 * never when offline. Everything it returns was verified as it entered the store.
 */
public final class ImageFinder implements AutoCloseable {
  /** A source of registry access, opened only when an image is found nowhere local. */
  @FunctionalInterface
  public interface Registry {
    ImageSource open() throws IOException;
  }

  /** An image and where it came from ("content store", "archive.tar", or "" for the registry). */
  public record Found(ImageRecord image, String from) {}

  private final EventSink events;
  private final boolean offline;
  private final Registry registry;
  private final Puller puller;
  private final StoreSource local;
  private final ImageArchives archives;
  private ImageSource opened;

  public ImageFinder(ContentStore store, List<Path> archives, boolean offline, Registry registry, EventSink events)
      throws IOException {
    this.events = events;
    this.offline = offline;
    this.registry = registry;
    this.puller = new Puller(store, 4, true);
    this.local = new StoreSource(store);
    this.archives = ImageArchives.open(archives, store, events);
  }

  /**
   * The image for {@code ref} (a digest in it pins it), or null when it is found nowhere local
   * and this run is offline: the caller names everything missing at once.
   */
  public Found find(ImageRef ref, String name, List<Platform> platforms) throws IOException {
    if (ref.digest() != null) {
      try {
        return new Found(puller.pull(local, ref, platforms), "content store");
      } catch (IOException e) {
        events.debug(ref + " is not complete in the content store (" + e.getMessage() + ")");
      }
    }
    ImageSource archive = archives.find(name);
    if (archive != null) {
      return new Found(puller.pull(archive, ref, platforms), archive.describe());
    }
    if (offline) {
      return null;
    }
    if (opened == null) {
      opened = registry.open();
    }
    return new Found(puller.pull(opened, ref, platforms), "");
  }

  /** The archives that held none of {@code refs}. */
  public List<Path> unmatched(Collection<String> refs) {
    return archives.unmatched(refs);
  }

  @Override
  public void close() throws IOException {
    try (archives; local; puller) {
      if (opened != null) {
        opened.close();
      }
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e.getMessage(), e);
    }
  }
}
