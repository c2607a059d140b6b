package io.hypervisor.assembler.steps;

import java.nio.charset.StandardCharsets;

/** A file a step writes into the image: absolute path, mode, exact content. */
public record ImageFile(String path, int mode, byte[] content) {
  public ImageFile {
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("image paths are absolute: " + path);
    }
  }

  public static ImageFile text(String path, int mode, String content) {
    return new ImageFile(path, mode, content.getBytes(StandardCharsets.UTF_8));
  }

  public String text() {
    return new String(content, StandardCharsets.UTF_8);
  }

  /** Writes each file (parents created), replacing what was there. */
  static void writeAll(io.hypervisor.assembler.guestfs.ImageSession image, java.util.List<ImageFile> files)
      throws java.io.IOException {
    for (ImageFile f : files) {
      image.write(f.path(), f.content(), f.mode());
    }
  }
}
