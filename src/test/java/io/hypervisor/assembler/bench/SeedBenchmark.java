package io.hypervisor.assembler.bench;

import io.hypervisor.assembler.bbolt.BoltWriter;
import io.hypervisor.assembler.containerd.ContainerdStore;
import io.hypervisor.assembler.containerd.StoreOptions;
import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.content.TarWriter;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.http.HttpSettings;
import io.hypervisor.assembler.model.Descriptor;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.ImageRef;
import io.hypervisor.assembler.model.MediaType;
import io.hypervisor.assembler.model.Platform;
import io.hypervisor.assembler.oci.ImageRecord;
import io.hypervisor.assembler.oci.Puller;
import io.hypervisor.assembler.oci.registry.CredentialStore;
import io.hypervisor.assembler.oci.registry.HostsConfig;
import io.hypervisor.assembler.oci.registry.RegistrySource;
import io.hypervisor.assembler.testworld.Fixtures;
import io.hypervisor.assembler.testworld.TestRegistry;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The containerd store from a warm content store: our tar stream against {@code tar -c} over the
 * same blob files, each feeding a FIFO drained by {@code cat} (as libguestfs tar_in will read it),
 * alternating, several rounds; and the time to build meta.db for 50 images. Targets: ≥ 80 % of
 * tar's speed; meta.db for 50 images under 100 ms.
 */
public final class SeedBenchmark {
  private SeedBenchmark() {}

  public static void main(String[] args) throws Exception {
    int rounds = Integer.parseInt(args[1]);
    Path work = Files.createTempDirectory("bench-seed");
    ContentStore store = ContentStore.open(work.resolve("cas"));
    List<ImageRecord> images = new ArrayList<>();
    try (TestRegistry r = TestRegistry.builder().build().start();
        RegistrySource src = new RegistrySource(HostsConfig.load(r.hostsDir(work)), CredentialStore.none(),
            HttpSettings.defaults(), EventSink.NONE, Map.of());
        Puller p = new Puller(store, 4, true)) {
      for (Fixtures.PublishedImage img : Fixtures.publishedImages()) {
        images.add(p.pull(src, ImageRef.parse(img.reference()), List.of(Platform.LINUX_AMD64)));
      }
    }
    StoreOptions o = StoreOptions.forContainerd("2.2", "registry.k8s.io/pause:3.10.1", Platform.LINUX_AMD64, Instant.now());
    long bytes = ContainerdStore.size(images, o);
    List<String> blobFiles = new ArrayList<>();
    for (ImageRecord i : images) {
      for (Descriptor d : i.blobs()) {
        String f = "blobs/sha256/" + d.digest().encoded();
        if (!blobFiles.contains(f)) {
          blobFiles.add(f);
        }
      }
    }
    Path fifo = work.resolve("fifo");
    new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor();
    List<Double> ours = new ArrayList<>();
    List<Double> tar = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      for (int k = 0; k < 2; k++) {
        boolean oursTurn = (i + k) % 2 == 0;
        Process cat = new ProcessBuilder("sh", "-c", "cat " + fifo + " > /dev/null").start();
        long t0 = System.nanoTime();
        if (oursTurn) {
          try (FileChannel ch = FileChannel.open(fifo, StandardOpenOption.WRITE); TarWriter w = new TarWriter(ch, store, 0)) {
            ContainerdStore.write(images, o, store, w, "var/lib/containerd", null);
          }
        } else {
          List<String> cmd = new ArrayList<>(List.of("tar", "-C", store.root().toString(), "-cf", fifo.toString()));
          cmd.addAll(blobFiles);
          if (new ProcessBuilder(cmd).inheritIO().start().waitFor() != 0) {
            throw new IllegalStateException("tar failed");
          }
        }
        cat.waitFor();
        (oursTurn ? ours : tar).add((System.nanoTime() - t0) / 1e9);
      }
      System.out.printf(Locale.ROOT, "round %d: store tar stream %.2f s, tar -c %.2f s%n", i + 1,
          ours.get(ours.size() - 1), tar.get(tar.size() - 1));
    }
    double mo = PullBenchmark.median(ours);
    double mt = PullBenchmark.median(tar);
    System.out.printf(Locale.ROOT, "%d images, %.0f MiB of blobs, warm content store%n", images.size(), bytes / 1048576.0);
    System.out.printf(Locale.ROOT, "median: store tar stream %.2f s (%.0f MB/s), tar -c %.2f s (%.0f MB/s)%n",
        mo, bytes / mo / 1e6, mt, bytes / mt / 1e6);
    System.out.printf(Locale.ROOT, "speed relative to tar -c: %.0f %% (target >= 80 %%)%n", 100 * mt / mo);

    List<ImageRecord> fifty = synthetic(50);
    double first = 0;
    List<Double> times = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      long t0 = System.nanoTime();
      byte[] db = BoltWriter.write(ContainerdStore.metadata(fifty, o));
      double ms = (System.nanoTime() - t0) / 1e6;
      if (i == 0) {
        first = ms;
        System.out.printf(Locale.ROOT, "meta.db for 50 images: %d bytes%n", db.length);
      }
      times.add(ms);
    }
    System.out.printf(Locale.ROOT, "meta.db for 50 images: first %.1f ms (cold JIT), median %.1f ms (target < 100 ms)%n",
        first, PullBenchmark.median(times));
    PullBenchmark.delete(work);
  }

  /** Records for n images (digests only: metadata needs no blob content). */
  static List<ImageRecord> synthetic(int n) {
    List<ImageRecord> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Digest idx = Digest.sha256(("index" + i).getBytes());
      Descriptor index = Descriptor.of(MediaType.OCI_INDEX, idx, 1000);
      Descriptor m = new Descriptor(MediaType.OCI_MANIFEST, Digest.sha256(("m" + i).getBytes()), 900, Map.of(),
          Platform.LINUX_AMD64);
      Descriptor arm = new Descriptor(MediaType.OCI_MANIFEST, Digest.sha256(("a" + i).getBytes()), 900, Map.of(),
          Platform.LINUX_ARM64);
      Descriptor c = Descriptor.of(MediaType.OCI_CONFIG, Digest.sha256(("c" + i).getBytes()), 3000);
      List<Descriptor> layers = new ArrayList<>();
      for (int l = 0; l < 6; l++) {
        layers.add(Descriptor.of(MediaType.OCI_LAYER_GZIP, Digest.sha256(("l" + i + "-" + l).getBytes()), 1 << 20));
      }
      out.add(new ImageRecord(ImageRef.parse("registry.example/image-" + i + ":v1").withDigest(idx), index,
          List.of(m, arm), List.of(new ImageRecord.PlatformImage(Platform.LINUX_AMD64, m, c, layers)), "synthetic"));
    }
    return out;
  }
}
