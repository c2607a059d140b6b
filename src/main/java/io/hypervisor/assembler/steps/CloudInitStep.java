package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.util.List;

/**
 * cloud-init with the platform's datasources (NoCloud and ConfigDrive) in a file that sorts after
 * the distribution's own ({@code 90_dpkg.cfg} on Debian), so it wins; nothing per cluster.
 */
public final class CloudInitStep implements Step {
  /** The datasource file. */
  public record Options(List<ImageFile> files) {
    public Options {
      files = List.copyOf(files);
    }
  }

  private final Options options;

  public CloudInitStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "cloud-init";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    if (!image.exists("/etc/cloud")) {
      throw new IOException("the image has no /etc/cloud: cloud-init is not installed, and the platform "
          + "provisions nodes through it");
    }
    for (ImageFile f : options.files()) {
      String dir = f.path().substring(0, f.path().lastIndexOf('/'));
      String name = f.path().substring(dir.length() + 1);
      for (String other : image.list(dir)) {
        if (other.endsWith(".cfg") && other.compareTo(name) > 0 && image.read(dir + "/" + other) != null
            && new String(image.read(dir + "/" + other), java.nio.charset.StandardCharsets.UTF_8)
                .contains("datasource_list")) {
          throw new IOException(dir + "/" + other + " sorts after " + name + " and sets datasource_list, so it "
              + "would override the platform's datasources; remove it from the base image");
        }
      }
    }
    ImageFile.writeAll(image, options.files());
    return String.join(", ", options.files().stream().map(ImageFile::path).toList());
  }
}
