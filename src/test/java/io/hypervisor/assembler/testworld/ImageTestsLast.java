package io.hypervisor.assembler.testworld;

import java.util.Comparator;
import org.junit.jupiter.api.ClassOrderer;
import org.junit.jupiter.api.ClassOrdererContext;

/**
 * Runs the test classes that read suite images ({@link UsesImages}) after all others, in the
 * order of the first image each needs: their images build in the background from the start, so
 * by the time the other tests are done the first ones are ready. Configured in
 * {@code junit-platform.properties}.
 */
public final class ImageTestsLast implements ClassOrderer {
  /** Classes without images first (by name), then by their first image, then by name. */
  static final Comparator<Class<?>> ORDER = Comparator.<Class<?>>comparingInt(ImageTestsLast::firstImage)
      .thenComparing(Class::getName);

  private static int firstImage(Class<?> c) {
    UsesImages u = c.getAnnotation(UsesImages.class);
    if (u == null || u.value().length == 0) {
      return -1;
    }
    int first = Integer.MAX_VALUE;
    for (SuiteImage i : u.value()) {
      first = Math.min(first, i.ordinal());
    }
    return first * 2 + (u.boots() ? 1 : 0);
  }

  @Override
  public void orderClasses(ClassOrdererContext context) {
    context.getClassDescriptors().sort(Comparator.comparing(d -> d.getTestClass(), ORDER));
  }
}
