package io.hypervisor.assembler.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.events.Event;
import io.hypervisor.assembler.events.EventSink;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Renders events on stderr (results go to stdout): a live progress bar on a terminal, plain
 * throttled lines when output is redirected (CI logs), one JSON object per line with --json.
 */
final class Console implements EventSink {
  /** How events are shown. */
  enum Mode { TERMINAL, PLAIN, JSON }

  private static final ObjectMapper JSON = new ObjectMapper();
  private final PrintStream err;
  private final Mode mode;
  private final boolean debug;
  private final Map<String, long[]> lastShown = new LinkedHashMap<>();
  private boolean barOnScreen;

  Console(PrintStream err, Mode mode, boolean debug) {
    this.err = err;
    this.mode = mode;
    this.debug = debug;
  }

  static Mode detect(boolean json) {
    if (json) {
      return Mode.JSON;
    }
    String term = System.getenv("TERM");
    return System.console() != null && term != null && !term.equals("dumb") ? Mode.TERMINAL : Mode.PLAIN;
  }

  @Override
  public synchronized void emit(Event event) {
    if (mode == Mode.JSON) {
      json(event);
      return;
    }
    if (event instanceof Event.StepStarted s) {
      line("==> " + s.step() + (s.detail().isEmpty() ? "" : ": " + s.detail()));
    } else if (event instanceof Event.StepFinished f) {
      line(String.format(Locale.ROOT, "    %s %s in %.1f s%s", f.ok() ? "done" : "FAILED", f.step(),
          f.duration().toMillis() / 1000.0, f.detail().isEmpty() ? "" : " (" + f.detail() + ")"));
    } else if (event instanceof Event.Progress p) {
      progress(p);
    } else if (event instanceof Event.Log l && (l.level() != Event.Level.DEBUG || debug)) {
      line((l.level() == Event.Level.WARN ? "warning: " : l.level() == Event.Level.DEBUG ? "debug: " : "")
          + l.message());
    }
  }

  private void progress(Event.Progress p) {
    boolean finished = p.total() >= 0 && p.done() >= p.total();
    if (mode == Mode.TERMINAL) {
      String bar = bar(p);
      err.print("\r\033[K" + bar);
      barOnScreen = !finished;
      if (finished) {
        err.println();
      }
      err.flush();
      return;
    }
    // Plain output: a line per 10 % or per 10 s, plus the final one, so CI logs stay readable.
    long now = System.nanoTime();
    long[] last = lastShown.computeIfAbsent(p.task(), k -> new long[] {-1, 0});
    int pct = p.total() > 0 ? (int) (100 * p.done() / p.total()) : -1;
    if (finished || pct / 10 > last[0] / 10 || now - last[1] > 10_000_000_000L) {
      last[0] = pct;
      last[1] = now;
      err.println("    " + bar(p));
      if (finished) {
        lastShown.remove(p.task());
      }
    }
  }

  private static String bar(Event.Progress p) {
    String amount = amount(p.done(), p.unit()) + (p.total() >= 0 ? " / " + amount(p.total(), p.unit()) : "");
    if (p.total() <= 0) {
      return p.task() + "  " + amount;
    }
    int width = 30;
    int filled = (int) (width * Math.min(1.0, (double) p.done() / p.total()));
    return String.format(Locale.ROOT, "%s [%s%s] %3d%%  %s", p.task(), "#".repeat(filled),
        ".".repeat(width - filled), 100 * p.done() / p.total(), amount);
  }

  static String amount(long n, String unit) {
    if (!"bytes".equals(unit)) {
      return n + (unit == null || unit.isEmpty() ? "" : " " + unit);
    }
    if (n < 10_000) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = n / 1024.0;
    int i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, units[i]);
  }

  private void line(String s) {
    if (barOnScreen) {
      err.print("\r\033[K");
      barOnScreen = false;
    }
    err.println(s);
    err.flush();
  }

  private void json(Event e) {
    Map<String, Object> m = new LinkedHashMap<>();
    if (e instanceof Event.StepStarted s) {
      m.put("event", "step-started");
      m.put("step", s.step());
      m.put("detail", s.detail());
    } else if (e instanceof Event.StepFinished f) {
      m.put("event", "step-finished");
      m.put("step", f.step());
      m.put("ok", f.ok());
      m.put("seconds", f.duration().toMillis() / 1000.0);
      m.put("detail", f.detail());
    } else if (e instanceof Event.Progress p) {
      m.put("event", "progress");
      m.put("task", p.task());
      m.put("done", p.done());
      m.put("total", p.total());
      m.put("unit", p.unit());
    } else if (e instanceof Event.Log l) {
      if (l.level() == Event.Level.DEBUG && !debug) {
        return;
      }
      m.put("event", "log");
      m.put("level", l.level().name().toLowerCase(Locale.ROOT));
      m.put("message", l.message());
    }
    try {
      err.println(JSON.writeValueAsString(m));
    } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
      throw new IllegalStateException(ex);
    }
  }
}
