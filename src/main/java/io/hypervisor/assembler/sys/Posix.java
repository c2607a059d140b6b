package io.hypervisor.assembler.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.IOException;
import java.nio.file.Path;

/** POSIX calls the JDK does not offer, from libc through JNA. */
public final class Posix {
  /** The libc functions used; errors arrive as LastErrorException with errno. */
  interface LibC extends Library {
    int mkfifo(String path, int mode) throws LastErrorException;

    String strerror(int errnum);
  }

  private static final class Holder {
    static final LibC LIBC = Native.load("c", LibC.class);
  }

  private Posix() {}

  /** Creates a named pipe (a FIFO) with the given mode; a reader and a writer meet there. */
  public static void mkfifo(Path path, int mode) throws IOException {
    try {
      Holder.LIBC.mkfifo(path.toString(), mode);
    } catch (LastErrorException e) {
      throw new IOException("mkfifo " + path + ": " + Holder.LIBC.strerror(e.getErrorCode()) + " (errno "
          + e.getErrorCode() + ")", e);
    } catch (UnsatisfiedLinkError e) {
      throw new IOException("mkfifo " + path + ": the C library cannot be loaded through JNA: " + e.getMessage(), e);
    }
  }
}
