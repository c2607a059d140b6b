package io.hypervisor.assembler.guestfs;

import io.hypervisor.assembler.model.Distro;
import java.util.Map;

/**
 * The identity a recipe names, from the image's {@code /etc/os-release}: libguestfs 1.48 knows
 * neither AlmaLinux (it reports {@code redhat-based}) nor CentOS Stream as such (it reports
 * {@code centos}), while {@code ID} and {@code VERSION_ID} say it plainly. Inspection's answer
 * stays where os-release says nothing, and its minor version where os-release has none (Debian's
 * {@code VERSION_ID="12"}; inspection reads 12.x from {@code debian_version}).
 */
public record OsRelease(String distro, int major, int minor) {
  /** The identity of an image that inspection reported as {@code distro major.minor}. */
  public static OsRelease of(String distro, int major, int minor, String osRelease) {
    if (osRelease == null) {
      return new OsRelease(distro, major, minor);
    }
    Map<String, String> f = Distro.osReleaseFields(osRelease);
    String id = f.get("ID");
    String version = f.get("VERSION_ID");
    if (id == null || version == null || !id.matches("[a-z0-9._-]{1,64}")) {
      return new OsRelease(distro, major, minor);
    }
    Distro d;
    try {
      d = new Distro(id, version);
    } catch (IllegalArgumentException e) {
      return new OsRelease(distro, major, minor);
    }
    int dot = version.indexOf('.');
    int m = dot < 0 ? (d.major() == major ? minor : 0) : Integer.parseInt(version.substring(dot + 1));
    return new OsRelease(d.id(), d.major(), m);
  }
}
