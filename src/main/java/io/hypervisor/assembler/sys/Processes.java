package io.hypervisor.assembler.sys;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a host tool to its end with a time limit: output and error merged, a failure names the tool and says what it printed. */
public final class Processes {
  private Processes() {}

  /** Runs {@code cmd} with these environment changes (may be empty); its output, or an IOException with it. */
  public static String run(List<String> cmd, Map<String, String> env, int seconds) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    byte[] out;
    try {
      out = p.getInputStream().readAllBytes();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", cmd) + " took longer than " + seconds + " s");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted: " + String.join(" ", cmd));
    }
    String text = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(cmd.get(0) + (cmd.size() > 1 ? " " + cmd.get(1) : "") + " failed (" + p.exitValue() + "): "
          + text.trim());
    }
    return text;
  }
}
