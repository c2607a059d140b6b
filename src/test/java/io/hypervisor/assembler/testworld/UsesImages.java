package io.hypervisor.assembler.testworld;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The suite images a test class reads. The suite starts building them when the run starts (two
 * at a time, while other tests go on) and runs such classes after the others, so nobody waits
 * for a build that could have started earlier.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface UsesImages {
  SuiteImage[] value();

  /** Also boots them (each image is booted at most once per run, see {@link SuiteImages#boot}). */
  boolean boots() default false;

  /** Also rebuilds them elsewhere from a bundle, for the reproducibility proof (see {@link SuiteImages#rebuild}). */
  boolean rebuilds() default false;
}
