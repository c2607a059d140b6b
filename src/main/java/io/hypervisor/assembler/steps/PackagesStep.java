package io.hypervisor.assembler.steps;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.guestfs.ImageSession;
import io.hypervisor.assembler.model.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.util.List;

/**
 * The lock's exact package files, installed offline by the image's own package manager: they go
 * in as one tar stream from the content store, then {@code dpkg -i} on the local {@code .deb}s in
 * the lock's order, in as many runs as pre-dependencies within the set need (computed on the host
 * from the files' control data, see {@code DpkgRuns}); or {@code dnf --disablerepo='*'} (dnf5's
 * {@code --disable-repo='*'} where the image has dnf5) on the local {@code .rpm}s, with a
 * {@code policy-rc.d} so no service starts inside the appliance. The lock is already resolved
 * against the image's package database, so apt would only resolve it again: ~8-10 s of apt
 * reading its lists and building its cache under TCG before dpkg starts, and one more dpkg run.
 * apt-get with every file on its command line marked none of them automatic, so dpkg leaves apt's
 * extended_states as apt did. kubeadm, kubelet and kubectl are held (dpkg selections, which is
 * what apt-mark hold writes; dnf's {@code .repo} excludes them); the files and caches are removed
 * afterwards.
 */
public final class PackagesStep implements Step {
  /** One package file from the content store. */
  public record PackageFile(String name, String version, Digest digest, long size) {}

  /**
   * The package family ("apt" or "dnf"), the files in install order, the packages to hold, and
   * for apt the dpkg run of each file (0, 1, ...: a later run for a package whose pre-dependency
   * is in the set).
   */
  public record Options(String family, List<PackageFile> packages, List<String> hold, List<Integer> runs) {
    public Options {
      packages = List.copyOf(packages);
      hold = List.copyOf(hold);
      runs = List.copyOf(runs);
      if (!family.equals("apt") && !family.equals("dnf")) {
        throw new IllegalArgumentException("unknown package family " + family);
      }
      if (runs.size() != packages.size()) {
        throw new IllegalArgumentException(runs.size() + " dpkg runs for " + packages.size() + " packages");
      }
    }

    /** Everything in one run. */
    public Options(String family, List<PackageFile> packages, List<String> hold) {
      this(family, packages, hold, java.util.Collections.nCopies(packages.size(), 0));
    }
  }

  /**
   * Where each package's bytes come from: the content store's file, or a host-side rewrite of it
   * that the image's package manager installs the same (a .deb with zstd data instead of xz).
   */
  public interface Files {
    java.nio.file.Path path(PackageFile p) throws IOException;
  }

  public static final String DIR = "/var/cache/assemble/packages";
  private final Options options;
  private final Files files;

  public PackagesStep(Options options, ContentStore store) {
    this(options, (Files) p -> store.path(p.digest()));
  }

  private PackagesStep(Options options, Files files) {
    this.options = options;
    this.files = files;
  }

  /** The step sending what {@code files} gives for each package. */
  public static PackagesStep sending(Options options, Files files) {
    return new PackagesStep(options, files);
  }

  @Override
  public String name() {
    return "packages";
  }

  /** The file names in the image: numbered in install order, named as the package manager expects. */
  public List<String> fileNames() {
    String ext = options.family().equals("apt") ? ".deb" : ".rpm";
    List<String> out = new java.util.ArrayList<>();
    for (int i = 0; i < options.packages().size(); i++) {
      out.add(String.format("%03d_%s%s", i, options.packages().get(i).name(), ext));
    }
    return out;
  }

  /** The shell script that installs them inside the image. */
  public String script() {
    boolean apt = options.family().equals("apt");
    StringBuilder b = new StringBuilder();
    if (apt) {
      b.append("export DEBIAN_FRONTEND=noninteractive\n");
      b.append("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d\nchmod 0755 /usr/sbin/policy-rc.d\n");
      // man-db's trigger rebuilds the whole manual index (tens of seconds under TCG) that cleanup
      // removes anyway: its switch file is moved aside for the install and back (same file, same
      // times). dpkg's fsyncs protect against a crash of this throw-away work disk only.
      b.append("mandb_switch=/var/lib/man-db/auto-update\n");
      b.append("if [ -e $mandb_switch ]; then mv $mandb_switch $mandb_switch.assemble; fi\n");
      b.append("cd ").append(DIR).append('\n');
      List<String> names = fileNames();
      int last = options.runs().stream().mapToInt(Integer::intValue).max().orElse(0);
      for (int run = 0; run <= last; run++) {
        b.append("dpkg -i --force-confdef --force-confold --force-unsafe-io");
        for (int i = 0; i < names.size(); i++) {
          if (options.runs().get(i) == run) {
            b.append(' ').append(names.get(i));
          }
        }
        b.append('\n');
      }
      b.append("cd /\n");
      b.append("if [ -e $mandb_switch.assemble ]; then mv $mandb_switch.assemble $mandb_switch; fi\n");
      if (!options.hold().isEmpty()) {
        b.append("printf '");
        options.hold().forEach(h -> b.append(h).append(" hold\\n"));
        b.append("' | dpkg --set-selections\n");
      }
      b.append("rm -f /usr/sbin/policy-rc.d\n");
      b.append("apt-get clean\n");
    } else {
      // systemd does not run in the appliance: scriptlets that try to start services just fail softly.
      // Every repository is disabled: EL's dnf.conf has skip_if_unavailable=False, so loading one
      // the appliance cannot reach would fail the install; dnf gets exactly the lock's files.
      // Fedora 41+ has dnf5 (/usr/bin/dnf is a link to it): its own spellings, its own cache.
      b.append("if [ -x /usr/bin/dnf5 ]; then\n");
      b.append("  ").append(dnfInstall(true, DIR + "/*.rpm")).append('\n');
      b.append("  dnf5 clean all\n");
      b.append("else\n");
      b.append("  ").append(dnfInstall(false, DIR + "/*.rpm")).append('\n');
      b.append("  dnf clean all\n");
      b.append("fi\n");
    }
    b.append("rm -rf /var/cache/assemble\n");
    return b.toString();
  }

  /**
   * The install command line of dnf 4 or dnf5 (their spellings differ) for {@code files}, a shell
   * word: every repository disabled, no weak dependencies, no documentation.
   */
  public static String dnfInstall(boolean dnf5, String files) {
    return dnf5 ? "dnf5 install -y -q --disable-repo='*' --setopt=install_weak_deps=False --no-docs " + files
        : "dnf install -y -q --disablerepo='*' --setopt=install_weak_deps=False --setopt=tsflags=nodocs " + files;
  }

  /** The family, the files in order by name, version, digest and size, the held names, and the script run. */
  @Override
  public List<String> inputs() {
    List<String> out = new java.util.ArrayList<>();
    out.add("family " + options.family());
    for (PackageFile p : options.packages()) {
      out.add("package " + p.name() + " " + p.version() + " " + p.digest() + " " + p.size());
    }
    out.add("hold " + String.join(" ", options.hold()));
    out.add("script " + Digest.sha256(script().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    return out;
  }

  @Override
  public String apply(ImageSession image, EventSink events) throws IOException {
    if (options.packages().isEmpty()) {
      return "nothing to install";
    }
    List<String> names = fileNames();
    List<java.nio.file.Path> paths = new java.util.ArrayList<>();
    long sum = 0;
    for (PackageFile p : options.packages()) {
      java.nio.file.Path f = files.path(p);
      paths.add(f);
      sum += java.nio.file.Files.size(f);
    }
    long total = sum;
    image.tarIn(new ImageSession.TarSource() {
      @Override
      public long size() {
        return total;
      }

      @Override
      public void writeTo(OutputStream out) throws IOException {
        TarWriter tar = new TarWriter(Channels.newChannel(out), null, 0);
        for (int i = 0; i < names.size(); i++) {
          tar.file(names.get(i), 0644, paths.get(i));
        }
        tar.finish();
      }
    }, DIR, options.packages().size() + " packages");
    image.run("installing " + options.packages().size() + " packages", script());
    return options.packages().size() + " packages, " + (total >> 20) + " MiB";
  }
}
