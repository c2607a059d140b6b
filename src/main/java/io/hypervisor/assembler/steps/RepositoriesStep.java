package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.util.List;

/**
 * The recipe's repositories go into the image, so the node can be patched later from the same
 * sources: apt {@code .sources} with dearmored keyrings under {@code /etc/apt/keyrings} (as the
 * upstream instructions do), or dnf {@code .repo} files (the Kubernetes one with
 * {@code exclude=}) with keys under {@code /etc/pki/rpm-gpg}.
 */
public final class RepositoriesStep implements Step {
  /** The definition and keyring files. */
  public record Options(List<ImageFile> files) {
    public Options {
      files = List.copyOf(files);
    }
  }

  private final Options options;

  public RepositoriesStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "repositories";
  }

  /** Each file by path, mode and the sha256 of its bytes. */
  @Override
  public java.util.List<String> inputs() {
    return options.files().stream().map(f -> "file " + f.path() + " " + Integer.toOctalString(f.mode()) + " "
        + io.hypervisor.assembler.model.Digest.sha256(f.content())).toList();
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    ImageFile.writeAll(image, options.files());
    return options.files().size() + " files";
  }
}
