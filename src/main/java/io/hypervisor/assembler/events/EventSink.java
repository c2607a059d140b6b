package io.hypervisor.assembler.events;

import java.time.Duration;

/** Receives events; implementations must be thread-safe (downloads report from many threads). */
@FunctionalInterface
public interface EventSink {
  /** A sink that drops everything. */
  EventSink NONE = e -> { };

  void emit(Event event);

  default void info(String message) {
    emit(new Event.Log(Event.Level.INFO, message));
  }

  default void warn(String message) {
    emit(new Event.Log(Event.Level.WARN, message));
  }

  default void debug(String message) {
    emit(new Event.Log(Event.Level.DEBUG, message));
  }

  default void progress(String task, long done, long total, String unit) {
    emit(new Event.Progress(task, done, total, unit));
  }

  /** The same sink with every step, log line and progress task named after {@code who} (one build of several). */
  default EventSink prefixed(String who) {
    EventSink inner = this;
    return e -> {
      if (e instanceof Event.StepStarted s) {
        inner.emit(new Event.StepStarted(who + ": " + s.step(), s.detail()));
      } else if (e instanceof Event.StepFinished f) {
        inner.emit(new Event.StepFinished(who + ": " + f.step(), f.duration(), f.ok(), f.detail()));
      } else if (e instanceof Event.Progress p) {
        inner.emit(new Event.Progress(who + ": " + p.task(), p.done(), p.total(), p.unit()));
      } else if (e instanceof Event.Log l) {
        inner.emit(new Event.Log(l.level(), who + ": " + l.message()));
      } else {
        inner.emit(e);
      }
    };
  }

  /** Starts a timed step; close the returned handle to emit its finish event. */
  default Step step(String name, String detail) {
    return new Step(this, name, detail);
  }

  /** A running step. {@link #ok()} marks success before close; otherwise it closes as failed. */
  final class Step implements AutoCloseable {
    private final EventSink sink;
    private final String name;
    private final long start = System.nanoTime();
    private boolean ok;
    private String result = "";

    Step(EventSink sink, String name, String detail) {
      this.sink = sink;
      this.name = name;
      sink.emit(new Event.StepStarted(name, detail == null ? "" : detail));
    }

    /** Marks the step successful, with an optional one-line result for the finish event. */
    public void ok(String detail) {
      ok = true;
      result = detail == null ? "" : detail;
    }

    public void ok() {
      ok("");
    }

    @Override
    public void close() {
      sink.emit(new Event.StepFinished(name, Duration.ofNanos(System.nanoTime() - start), ok,
          result));
    }
  }
}
