package io.hypervisor.assembler.pkgrepo;

/**
 * The repository a package version came from: its name (as the plan and lock call it), where it
 * was configured ("image /etc/apt/sources.list.d/debian.sources", "recipe"), and whether it is
 * one of the base image's own repositories (the plan's "distro").
 */
public record Source(String name, String origin, boolean image) {
  /** The plan's name for "the base image's own repositories". */
  public static final String DISTRO = "distro";

  /** Whether a plan's repository hint (a name, "distro", or null for any) selects this source. */
  public boolean matches(String hint) {
    return hint == null || (hint.equals(DISTRO) ? image : name.equals(hint));
  }
}
