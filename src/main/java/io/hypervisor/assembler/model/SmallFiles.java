package io.hypervisor.assembler.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Reading the small files a user points the tool at (recipes and what they extend, locks, plans,
 * keys, hosts.toml and its CA files, docker's config.json): only regular files (a FIFO, a device
 * or a directory is refused before it is opened, so nothing can block or stream for ever), and
 * never more than a cap per kind of document, enforced while reading, whatever the file claims.
 */
public final class SmallFiles {
  /** A recipe or a file it extends. */
  public static final long RECIPE = 1 << 20;
  /** An OpenPGP key, a PEM key or certificate. */
  public static final long KEY = 1 << 20;
  /** hosts.toml, docker's config.json and other small configuration. */
  public static final long CONFIG = 4 << 20;
  /** A lock or plan file (thousands of packages fit in a few MiB). */
  public static final long LOCK = 64 << 20;

  /** A file that is not what it should be: special, too large, not text. */
  public static final class Refused extends IOException {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message);
    }
  }

  private SmallFiles() {}

  /**
   * The bytes of {@code file}, described as {@code what} in messages ("recipe", "trust key" …).
   * Throws {@link Refused} when it is not a
   * regular file or holds more than {@code max} bytes ({@code java.nio.file.NoSuchFileException}
   * when it is missing).
   */
  public static byte[] read(Path file, long max, String what) throws IOException {
    // Follows links: the target must be a regular file. NoSuchFileException passes through.
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    if (a.isDirectory()) {
      throw new Refused(what + " " + file + " is a directory, not a file");
    }
    if (!a.isRegularFile()) {
      throw new Refused(what + " " + file + " is not a regular file (a FIFO, socket or device); refusing to read it");
    }
    if (a.size() > max) {
      throw new Refused(what + " " + file + " has " + a.size() + " bytes; at most " + max + " are accepted");
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] b = in.readNBytes((int) max + 1);
      if (b.length > max) {
        throw new Refused(what + " " + file + " grew beyond " + max + " bytes while it was read");
      }
      return b;
    }
  }

  /**
   * Checks that {@code file} is a regular file before a large one is streamed (a bundle, an
   * archive, an image): a FIFO or device would block or never end.
   */
  public static void requireRegular(Path file, String what) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    if (!a.isRegularFile()) {
      throw new Refused(what + " " + file + (a.isDirectory() ? " is a directory, not a file"
          : " is not a regular file (a FIFO, socket or device); refusing to read it"));
    }
  }

  /** The file as UTF-8 text; {@link Refused} when it is not valid UTF-8 (a binary file given by mistake). */
  public static String readString(Path file, long max, String what) throws IOException {
    byte[] b = read(file, max, what);
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b)).toString();
    } catch (CharacterCodingException e) {
      throw new Refused(what + " " + file + " is not UTF-8 text");
    }
  }
}
