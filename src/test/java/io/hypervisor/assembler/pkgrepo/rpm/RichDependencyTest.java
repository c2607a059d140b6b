package io.hypervisor.assembler.pkgrepo.rpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hypervisor.assembler.pkgrepo.Capability;
import io.hypervisor.assembler.pkgrepo.Dependency;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Rich (boolean) dependencies as rpm 4.13+ writes them, lowered to the resolver's form. */
class RichDependencyTest {
  static String show(List<Dependency> deps) {
    StringBuilder b = new StringBuilder();
    for (Dependency d : deps) {
      b.append(String.join(" | ", d.anyOf().stream().map(RpmVersion.SCHEME::format).toList()));
      if (!d.onlyIf().isEmpty()) {
        b.append(" if ").append(String.join(" | ", d.onlyIf().stream().map(Capability::name).toList()));
      }
      if (!d.unless().isEmpty()) {
        b.append(" unless ").append(String.join(" | ", d.unless().stream().map(Capability::name).toList()));
      }
      b.append("; ");
    }
    return b.toString();
  }

  @Test
  void plainAndVersioned() {
    assertEquals("bash; ", show(RichDependency.parse("bash")));
    assertEquals("iptables >= 1.4.21; ", show(RichDependency.parse("iptables >= 1.4.21")));
  }

  @Test
  void orAndIfElseUnless() {
    assertEquals("glibc-langpack-en | glibc-all-langpacks; ",
        show(RichDependency.parse("(glibc-langpack-en or glibc-all-langpacks)")));
    assertEquals("a >= 1.0 | b | c; ", show(RichDependency.parse("(a >= 1.0 or (b or c))")));
    assertEquals("a; b; ", show(RichDependency.parse("(a and b)")));
    assertEquals("systemd if systemd-units; ", show(RichDependency.parse("(systemd if systemd-units)")));
    assertEquals("x if y; z unless y; ", show(RichDependency.parse("(x if y else z)")));
    assertEquals("x unless y; ", show(RichDependency.parse("(x unless y)")));
    assertEquals("perl(Foo::Bar) >= 2; python3dist(six); ",
        show(RichDependency.parse("(perl(Foo::Bar) >= 2 with python3dist(six))")));
    assertEquals("a; ", show(RichDependency.parse("((a and b) or c)").subList(0, 1)));
  }

  @Test
  void malformedIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> RichDependency.parse("(a or"));
    assertThrows(IllegalArgumentException.class, () -> RichDependency.parse("(a xor b)"));
  }
}
