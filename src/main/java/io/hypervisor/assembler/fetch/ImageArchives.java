package io.hypervisor.assembler.fetch;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.AssemblerException;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.oci.archive.ArchiveSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Pre-fetched image tarballs a site already has (OCI layout tars, {@code docker save} in both
 * forms, {@code ctr export}), matched to the plan's references by the names they carry (OCI
 * annotations, RepoTags). Each archive's content enters the content store verified as it is read.
 * Says which planned image came from which file, and which files matched nothing.
 */
public final class ImageArchives implements AutoCloseable {
  private final Map<Path, ArchiveSource> archives = new LinkedHashMap<>();
  private final Set<Path> used = new LinkedHashSet<>();

  private ImageArchives() {}

  /** Opens every archive (recipe images.archives, plus the files of --images-dir). */
  public static ImageArchives open(List<Path> files, ContentStore store, EventSink events) throws IOException {
    ImageArchives a = new ImageArchives();
    for (Path f : files) {
      try (EventSink.Step s = events.step("read image archive", f.toString())) {
        ArchiveSource src = ArchiveSource.open(f, store);
        a.archives.put(f, src);
        s.ok(String.join(", ", src.names()) + (src.legacyDockerSave() ? " (docker save)" : ""));
      } catch (IOException | RuntimeException e) {
        a.close();
        // A local file the user gave that is not a usable archive: an input error, named.
        throw AssemblerException.input("reading the image archive " + f + ": " + AssemblerException.describe(e),
            "give OCI layout, docker save or ctr export tarballs (assemble inspect FILE shows what one holds)");
      }
    }
    return a;
  }

  public boolean isEmpty() {
    return archives.isEmpty();
  }

  /** The archive holding {@code ref} by name (tag), or null. The digest is not checked here. */
  public ArchiveSource find(String ref) {
    ImageRef byTag = ImageRef.parse(ref).withDigest(null);
    for (Map.Entry<Path, ArchiveSource> e : archives.entrySet()) {
      try {
        Descriptor d = e.getValue().resolve(byTag);
        if (d != null) {
          used.add(e.getKey());
          return e.getValue();
        }
      } catch (IOException notHere) {
        // try the next archive
      }
    }
    return null;
  }

  /** Archives that held none of the planned references. */
  public List<Path> unmatched(Collection<String> refs) {
    refs.forEach(this::find);
    List<Path> out = new ArrayList<>(archives.keySet());
    out.removeAll(used);
    return out;
  }

  @Override
  public void close() {
    for (ArchiveSource s : archives.values()) {
      try {
        s.close();
      } catch (Exception ignored) {
        // spooled into the content store; nothing to lose
      }
    }
  }
}
