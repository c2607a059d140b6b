package io.hypervisor.assembler.testworld;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.platform.engine.support.descriptor.ClassSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Starts the suite images the run's test classes declare ({@link UsesImages}) when the run
 * starts, so they build (and boot) while the other tests go on, and writes what ran in the
 * background, with times, to {@code target/suite-images.txt} at the end for {@code ./run-tests}'s
 * report. Registered through {@code META-INF/services}; a run without such classes starts nothing.
 */
public final class SuiteImagesListener implements TestExecutionListener {
  @Override
  public void testPlanExecutionStarted(TestPlan plan) {
    Set<SuiteImage> images = new LinkedHashSet<>();
    Set<SuiteImage> boots = new LinkedHashSet<>();
    Set<SuiteImage> rebuilds = new LinkedHashSet<>();
    List<Class<?>> classes = new ArrayList<>();
    for (TestIdentifier root : plan.getRoots()) {
      for (TestIdentifier t : plan.getDescendants(root)) {
        if (t.getSource().orElse(null) instanceof ClassSource c) {
          classes.add(c.getJavaClass());
        }
      }
    }
    // In the order the classes run (ImageTestsLast sorts them so), then each class's own order.
    classes.sort(ImageTestsLast.ORDER);
    for (Class<?> c : classes) {
      UsesImages u = c.getAnnotation(UsesImages.class);
      if (u != null) {
        images.addAll(List.of(u.value()));
        if (u.boots()) {
          boots.addAll(List.of(u.value()));
        }
        if (u.rebuilds()) {
          rebuilds.addAll(List.of(u.value()));
        }
      }
    }
    if (!images.isEmpty()) {
      // The longest chain first: an air-gapped build is a fetch, a killed attempt and a build.
      List<SuiteImage> order = new ArrayList<>(images);
      order.sort(java.util.Comparator.comparing(i -> !i.airGapped()));
      SuiteImages.prefetch(order, boots, rebuilds);
    }
  }

  @Override
  public void testPlanExecutionFinished(TestPlan plan) {
    List<String> lines = new ArrayList<>(SuiteImages.report());
    int launches = io.hypervisor.assembler.guestfs.GuestfsSession.launches() + Guests.launches();
    if (lines.isEmpty() && launches == 0) {
      return;
    }
    lines.add(String.format("%8s  appliance launches in the test JVM (builds run in their own processes not counted)",
        launches));
    try {
      Path target = Path.of(System.getProperty("project.basedir", "."), "target");
      Files.createDirectories(target);
      Files.write(target.resolve("suite-images.txt"), lines);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
