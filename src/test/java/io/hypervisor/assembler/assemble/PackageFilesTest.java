package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.plan.Lock;
import io.hypervisor.assembler.steps.PackagesStep;
import io.hypervisor.assembler.testworld.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the packages step sends: a large xz .deb rewritten with zstd (dpkg-deb reads it back to
 * the same files), a small one and a file the rewrite fails on as they are in the content store
 * (the failure said as a warning), and nothing rewritten for an rpm lock.
 */
class PackageFilesTest {
  @TempDir
  Path tmp;

  private static Lock lock(String family, List<Lock.Package> packages) {
    return new Lock(Lock.FORMAT_VERSION, "p", "sha256:" + "0".repeat(64), "sha256:" + "0".repeat(64), family, "amd64",
        null, Map.of(), packages, List.of());
  }

  private static Lock.Package pkg(String name, Digest d, long size) {
    return new Lock.Package(name, "1.0", "amd64", "distro", "http://127.0.0.1/x.deb", d.encoded(), size);
  }

  @Test
  void largeXzDebsAreRewrittenAndEverythingElseGoesAsItIs() throws Exception {
    Path src = Files.createDirectories(tmp.resolve("src/DEBIAN"));
    Files.writeString(src.resolve("control"), "Package: big\nVersion: 1.0\nArchitecture: all\n"
        + "Maintainer: t <t@assemble.invalid>\nDescription: d\n");
    byte[] bytes = new byte[5 << 20];
    new java.util.Random(3).nextBytes(bytes);
    Files.createDirectories(tmp.resolve("src/usr/lib"));
    Files.write(tmp.resolve("src/usr/lib/big.bin"), bytes);
    Path deb = tmp.resolve("big.deb");
    Tools.run(List.of("dpkg-deb", "--root-owner-group", "-Zxz", "--build", tmp.resolve("src").toString(),
        deb.toString()), tmp, 120).ok();
    ContentStore store = ContentStore.open(tmp.resolve("store"));
    Digest big = store.put(Files.readAllBytes(deb));
    Digest junk = store.put("not a deb".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    List<String> warnings = new ArrayList<>();
    EventSink events = e -> {
      if (e instanceof io.hypervisor.assembler.events.Event.Log l
          && l.level() == io.hypervisor.assembler.events.Event.Level.WARN) {
        warnings.add(l.message());
      }
    };
    try (PackageFiles files = new PackageFiles(store, tmp.resolve("work/packages"), events)) {
      files.start(lock("apt", List.of(pkg("big", big, Files.size(deb)), pkg("junk", junk, 9))));
      Path sent = files.path(new PackagesStep.PackageFile("big", "1.0", big, Files.size(deb)));
      assertNotEquals(store.path(big), sent);
      assertTrue(Tools.run(List.of("ar", "t", sent.toString())).ok().out().contains("data.tar.zst"));
      assertEquals(Tools.run(List.of("dpkg-deb", "-c", deb.toString())).ok().out(),
          Tools.run(List.of("dpkg-deb", "-c", sent.toString())).ok().out());
      assertEquals(store.path(junk), files.path(new PackagesStep.PackageFile("junk", "1.0", junk, 9)));
      assertTrue(warnings.toString().contains("junk 1.0 goes into the image as it is"), warnings.toString());
    }
    try (PackageFiles files = new PackageFiles(store, tmp.resolve("work2/packages"), EventSink.NONE)) {
      files.start(lock("dnf", List.of(pkg("big", big, Files.size(deb)))));
      assertEquals(store.path(big), files.path(new PackagesStep.PackageFile("big", "1.0", big, Files.size(deb))));
    }
  }
}
