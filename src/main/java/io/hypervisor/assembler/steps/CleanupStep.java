package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * What virt-sysprep would do, plus cloud-init, so every node boots as a new machine: an empty
 * machine-id (systemd makes a new one; "uninitialized" would re-run presets), no ssh host keys,
 * no cloud-init instance state or seed, no logs, leases, shell history, temporary files, package
 * caches or build leftovers; and nothing that must not be baked (cluster certificates,
 * kubeconfigs, CNI configuration, CCM credentials, the platform's cluster.json). Done with file
 * operations, not a shell, so it is the same in every image.
 */
public final class CleanupStep implements Step {
  /** Extra paths (globs) the recipe wants removed, beyond the fixed list. */
  public record Options(List<String> extra) {
    public Options {
      extra = List.copyOf(extra);
    }
  }

  /** Removed: identity, state and history. */
  public static final List<String> REMOVE = List.of(
      "/etc/ssh/ssh_host_*",
      "/var/lib/dbus/machine-id",
      "/var/lib/cloud/*",
      "/var/log/cloud-init*.log",
      "/var/lib/dhcp/*.leases", "/var/lib/dhclient/*", "/var/lib/NetworkManager/*.lease",
      "/var/lib/systemd/random-seed", "/var/lib/systemd/credential.secret",
      "/root/.bash_history", "/home/*/.bash_history", "/root/.lesshst", "/root/.viminfo",
      "/tmp/*", "/tmp/.[!.]*", "/var/tmp/*",
      "/var/cache/apt/*.bin", "/var/cache/apt/archives/*.deb", "/var/lib/apt/lists/*_Packages*",
      "/var/lib/apt/lists/*Release*", "/var/cache/dnf/*", "/var/cache/yum/*", "/var/cache/libdnf5/*",
      "/var/log/journal/*",
      "/var/cache/assemble", "/usr/sbin/policy-rc.d",
      // caches and backups that hold inode numbers, times or the build's order: never the same twice
      "/var/cache/ldconfig/aux-cache", "/var/cache/man/index.db", "/var/cache/man/*/index.db",
      "/var/lib/systemd/catalog/database", "/var/cache/debconf/*-old", "/var/lib/dpkg/*-old",
      "/var/log/apt/*.xz", "/var/log/apt/*.gz", "/var/log/*.gz", "/var/log/*.[0-9]",
      // must not be baked: per-cluster material arrives through cloud-init
      "/etc/kubernetes/pki", "/etc/kubernetes/*.conf", "/etc/kubernetes/manifests/*",
      "/var/lib/kubelet/pki", "/var/lib/kubelet/config.yaml", "/var/lib/etcd",
      "/root/.kube", "/home/*/.kube", "/etc/cni/net.d/*",
      "/etc/hypervisor.io/cluster.json");

  /** Emptied (kept, so packages that expect them still find them): logs and the machine-id. */
  public static final List<String> TRUNCATE = List.of("/etc/machine-id", "/var/log/*.log", "/var/log/*/*.log",
      "/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog", "/var/log/dmesg", "/var/log/syslog", "/var/log/messages");

  /** What verify checks is gone (REMOVE without the directories that legitimately stay). */
  public static List<String> mustBeAbsent() {
    return REMOVE;
  }

  private final Options options;

  public CleanupStep(Options options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "cleanup";
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    int removed = 0;
    List<String> patterns = new ArrayList<>(REMOVE);
    patterns.addAll(options.extra());
    for (String p : patterns) {
      for (String path : image.glob(p)) {
        image.remove(path);
        removed++;
      }
    }
    int emptied = 0;
    for (String p : TRUNCATE) {
      for (String path : image.glob(p)) {
        if (image.readlink(path) == null && image.read(path) != null) {
          image.truncate(path);
          emptied++;
        }
      }
    }
    if (image.read("/etc/machine-id") == null) {
      image.write("/etc/machine-id", new byte[0], 0444);
    }
    return removed + " paths removed, " + emptied + " files emptied";
  }
}
