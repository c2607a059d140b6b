/**
 * The recipe: one YAML file (plus the files it {@code extends:}) describing one node image, read
 * into validated records. Reading reports every problem at once with its YAML path and
 * line:column, unknown keys with a "did you mean"; nothing in a recipe is silently ignored.
 *
 * <p>Spec: README.md "Recipe format". May depend on: model, jackson.
 */
package io.hypervisor.assembler.recipe;
