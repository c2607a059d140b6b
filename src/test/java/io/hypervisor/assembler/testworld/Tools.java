package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the host tools the test world uses (openssl, skopeo, gpg, apt-get, ctr …). */
public final class Tools {
  private Tools() {}

  /** The outcome of a finished command. */
  public record Result(int code, String out, String err) {
    public Result ok() {
      if (code != 0) {
        throw new AssertionError("command failed (" + code + "): " + err + out);
      }
      return this;
    }
  }

  public static Result run(List<String> cmd) {
    return run(cmd, null, 300);
  }

  /** Runs a command in {@code dir} (null: current), failing the test after {@code seconds}. */
  public static Result run(List<String> cmd, Path dir, int seconds) {
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd);
      if (dir != null) {
        pb.directory(dir.toFile());
      }
      Path err = java.nio.file.Files.createTempFile("tool", ".err");
      pb.redirectError(err.toFile());
      Process p = pb.start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("timed out: " + String.join(" ", cmd));
      }
      String e = java.nio.file.Files.readString(err);
      java.nio.file.Files.delete(err);
      return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }
}
