package io.hypervisor.assembler.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.recipe.RecipeReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every recipe under recipes/ plans, and its plan (JSON and text) equals the golden file. After a
 * deliberate change, regenerate with {@code mvn test -Dtest=ReferenceRecipesTest -Dgolden.update=true}
 * and review the diff.
 */
class ReferenceRecipesTest {
  static final Path RECIPES = Path.of("recipes");
  static final Path GOLDEN = Path.of("src/test/resources/golden");

  static List<Path> recipes() throws IOException {
    try (Stream<Path> s = Files.walk(RECIPES)) {
      return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
  }

  static boolean isDefaults(Path p) throws IOException {
    return Files.readString(p).lines().anyMatch(l -> l.equals("kind: NodeImageDefaults"));
  }

  @TestFactory
  List<DynamicTest> everyReferenceRecipePlansAsItsGoldenFile() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    for (Path r : recipes()) {
      if (isDefaults(r)) {
        continue;
      }
      tests.add(DynamicTest.dynamicTest(r.toString(), () -> {
        // No environment: golden files must not depend on who runs the test.
        RecipeReader.Result read = new RecipeReader(Map.of(), List.of()).read(r);
        Plan plan = new Planner(KubernetesBom.load()).plan(read.recipe(), read.warnings());
        String base = r.getFileName().toString().replace(".yaml", "");
        golden(GOLDEN.resolve(base + ".plan.json"), PlanPrinter.json(plan));
        golden(GOLDEN.resolve(base + ".plan.txt"), PlanPrinter.text(plan));
      }));
    }
    assertTrue(tests.size() >= 3, "reference recipes: " + tests.size());
    return tests;
  }

  @Test
  void everyDefaultsFileIsExtendedByARecipe() throws IOException {
    Set<Path> used = new HashSet<>();
    for (Path r : recipes()) {
      if (!isDefaults(r)) {
        new RecipeReader(Map.of(), List.of()).read(r).recipe().sources().forEach(s -> used.add(s.normalize()));
      }
    }
    for (Path r : recipes()) {
      if (isDefaults(r)) {
        assertTrue(used.contains(r.normalize()), r + " is not extended by any recipe");
      }
    }
  }

  @Test
  void theReferenceRecipesCoverTheThreeFamiliesAndRoles() throws IOException {
    Set<String> seen = new HashSet<>();
    for (Path r : recipes()) {
      if (!isDefaults(r)) {
        var rec = new RecipeReader(Map.of(), List.of()).read(r).recipe();
        seen.add(rec.base().os().id());
        seen.add(rec.kubernetes().role().word());
        assertFalse(rec.base().url() == null, r + " uses a public cloud image URL");
      }
    }
    assertTrue(seen.containsAll(List.of("debian", "ubuntu", "rocky", "worker", "control-plane", "combined")),
        seen.toString());
  }

  static void golden(Path file, String actual) throws IOException {
    if (Boolean.getBoolean("golden.update") || !Files.exists(file)) {
      Files.createDirectories(file.getParent());
      Files.writeString(file, actual);
      if (!Boolean.getBoolean("golden.update")) {
        throw new AssertionError("golden file " + file + " did not exist; written now, review and commit it");
      }
    }
    assertEquals(Files.readString(file), actual, "plan differs from " + file
        + " (after a deliberate change: -Dgolden.update=true, then review the diff)");
  }
}
