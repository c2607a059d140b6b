package io.hypervisor.assembler.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hypervisor.assembler.testworld.Guests;
import io.hypervisor.assembler.testworld.SuiteImage;
import io.hypervisor.assembler.testworld.SuiteImages;
import io.hypervisor.assembler.testworld.SuiteImages.Built;
import io.hypervisor.assembler.testworld.SuiteImages.Rebuilt;
import io.hypervisor.assembler.testworld.Tools;
import io.hypervisor.assembler.testworld.UsesImages;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reproducible builds, proven on the worker every reference recipe resembles: the suite's build
 * and a rebuild in another process (another time zone, umask 077, other working and work
 * directories, a fresh content store filled only from a bundle, minutes later, starting from
 * the step cache's layer the first build kept after its packages, its ext4 root read on the
 * host from the closed disk) give the same
 * qcow2 bytes (sha256sum), the same catalogue manifest, SBOMs, tree manifest and provenance
 * statement (its signature is fresh each time, as ECDSA and OpenPGP signatures are). {@code
 * assemble diff} finds the two trees the same, names the one file a changed manifest line
 * points at, and reads the rebuilt image's tree back equal to the manifest. That the rebuilt file system still boots is BootVerifyIT's (it boots this image).
 */
@Tag("integration")
@UsesImages(value = SuiteImage.WORKER, rebuilds = true)
class ReproducibleBuildIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path tmp;

  private static String sha256(Path f) {
    return Tools.run(List.of("sha256sum", f.toString()), f.getParent(), 600).ok().out().split(" ")[0];
  }

  @Test
  void aRebuildElsewhereGivesTheSameBytes() throws Exception {
    Built first = SuiteImages.get(SuiteImage.WORKER);
    assertEquals(0, first.code(), first.err());
    Rebuilt second = SuiteImages.rebuild(SuiteImage.WORKER);
    assertEquals(0, second.run().code(), second.run().out() + second.run().err());
    assertTrue(second.run().err().contains("following the lock"), second.run().err());
    // The first build kept its packages step as a layer; the rebuild started from it (a copy of
    // the first build's step cache beside a content store filled from the bundle).
    CliTest.Run ls = CliTest.run("--cache", first.cache().toString(), "cache", "ls");
    assertTrue(ls.out().contains("repositories+packages on sha256:"), ls.out());
    assertTrue(second.run().err().contains("from the step cache"), second.run().err());
    // ... twice: first with an appliance on the layer (no record of the verify's binaries was
    // there yet), its ext4 root read whole on the host from the closed disk (no tree kept with the
    // layer); then, with the record that rebuild kept, with no appliance at all: the layer's root
    // read on the host, the steps applied to its tree, the root rebuilt from it
    String appliance = second.applianceRun().err();
    assertEquals(0, second.applianceRun().code(), appliance);
    assertTrue(appliance.contains("an appliance is needed: no record of the verify's binaries"), appliance);
    assertTrue(appliance.contains("launch appliance") && appliance.contains("from the step cache"), appliance);
    // the appliance path's own read of the closed disk, not the refused attempt's read of the layer
    assertTrue(appliance.matches("(?s).*tree: the root file system \\(/dev/[a-z0-9]+\\) read on the host.*"), appliance);
    assertFalse(appliance.contains("the rest from the layer's tree"), appliance);
    assertEquals(sha256(first.image()), second.applianceSha256(), "the qcow2 from an appliance on the layer");
    assertTrue(second.run().err().contains("no appliance launched"), second.run().err());
    assertTrue(second.run().err().contains("tree: the layer's root file system read on the host"), second.run().err());
    assertFalse(second.run().err().contains("launch appliance"), second.run().err());

    JsonNode m = JSON.readTree(first.manifest().toFile());
    assertEquals("bytes", m.get("reproducible").get("identity").asText(), m.toString());
    assertEquals(sha256(first.image()), sha256(second.image()), "the qcow2 twice, bit for bit (no appliance)");
    assertEquals(m.get("image").get("sha256").asText(), sha256(second.image()));
    assertArrayEquals(Files.readAllBytes(first.manifest()), Files.readAllBytes(second.manifest()),
        "the catalogue manifests");
    for (String key : List.of("tree", "sbomCycloneDx", "sbomSpdx")) {
      String name = m.get("files").get(key).asText();
      assertArrayEquals(Files.readAllBytes(first.image().resolveSibling(name)),
          Files.readAllBytes(second.image().resolveSibling(name)), name);
    }
    String provenance = m.get("files").get("provenance").asText();
    JsonNode a = JSON.readTree(first.image().resolveSibling(provenance).toFile());
    JsonNode b = JSON.readTree(second.image().resolveSibling(provenance).toFile());
    assertEquals(a.get("payload").asText(), b.get("payload").asText(), "the same in-toto statement");
    JsonNode lockA = JSON.readTree(first.lock().toFile());
    JsonNode lockB = JSON.readTree(second.lock().toFile());
    assertEquals(lockA.get("packages"), lockB.get("packages"));
    assertEquals(lockA.get("images"), lockB.get("images"));

    // The tree manifests agree, and one changed byte of one file is named.
    Path mtreeA = first.image().resolveSibling(m.get("files").get("tree").asText());
    Path mtreeB = second.image().resolveSibling(m.get("files").get("tree").asText());
    CliTest.Run same = CliTest.run("diff", mtreeA.toString(), mtreeB.toString());
    assertEquals(0, same.code(), same.out() + same.err());
    assertTrue(same.out().startsWith("the same tree: "), same.out());
    List<String> lines = Files.readAllLines(mtreeB, StandardCharsets.UTF_8);
    int at = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith("./etc/containerd/config.toml ")) {
        at = i;
      }
    }
    assertTrue(at > 0, "the manifest lists the containerd config");
    String line = lines.get(at);
    String digest = line.replaceAll(".* sha256digest=([0-9a-f]{64}).*", "$1");
    assertNotEquals(line, digest, line);
    // what one changed byte does to the manifest line: another sha256 of the same size
    lines.set(at, line.replace(digest, digest.substring(0, 63) + (digest.charAt(63) == '0' ? '1' : '0')));
    Path changed = tmp.resolve("changed.mtree");
    Files.write(changed, lines, StandardCharsets.UTF_8);
    CliTest.Run diff = CliTest.run("diff", mtreeA.toString(), changed.toString());
    assertEquals(1, diff.code(), diff.out() + diff.err());
    assertTrue(diff.out().startsWith("~ ./etc/containerd/config.toml: sha256digest "), diff.out());
    assertTrue(diff.out().contains("1 of "), diff.out());
    assertNotEquals(sha256(mtreeA), sha256(changed), "the tree manifest changed with it");

    // The rebuilt file system holds exactly the tree it was made from: read back from the image
    // (xattrs such as ping's capability, hard links, owners, times), it is the manifest's tree.
    CliTest.Run back = SuiteImages.slot("diff of the rebuilt image", () -> CliTest.run("--accel",
        Guests.accelerator().toString(), "--guest-cpus", Guests.CPUS, "--work", tmp.resolve("work").toString(), "diff",
        second.image().toString(), mtreeA.toString()));
    assertEquals(0, back.code(), back.out() + back.err());
    assertTrue(back.out().startsWith("the same tree: "), back.out());
    assertTrue(Files.readString(mtreeA).contains("xattr.security.capability="), "a capability is in the tree");
  }

  /**
   * One layer for every role's disk: the worker's layer (its packages installed on the 7 GiB
   * layer disk of a 3 GiB base, although its plan says 8 GiB) serves the same recipe on a 10 GiB
   * disk, with an appliance and without one, and both give the bytes of a cold build on that
   * disk, which grew its root the same way: to the layer's disk for the packages, then the rest.
   */
  @Test
  void aLayerServesAnotherDiskSizeWithTheColdBuildsBytes() throws Exception {
    SuiteImages.Resized r = SuiteImages.resized(SuiteImage.WORKER, "10G");
    assertEquals(0, r.cold().code(), r.cold().out() + r.cold().err());
    assertFalse(r.cold().err().contains("from the step cache"), r.cold().err());
    // its root grew past the layer's 7 GiB on the host, after finish, as the host build's does
    assertTrue(r.cold().err().contains("to the disk's end, on the host"), r.cold().err());
    assertEquals(0, r.appliance().code(), r.appliance().out() + r.appliance().err());
    assertTrue(r.appliance().err().contains("launch appliance") && r.appliance().err().contains("from the step cache"),
        r.appliance().err());
    assertEquals(0, r.host().code(), r.host().out() + r.host().err());
    assertTrue(r.host().err().contains("no appliance launched"), r.host().err());
    assertEquals(r.coldSha256(), r.applianceSha256(), "an appliance on the 8 GiB build's layer, grown to 10 GiB");
    assertEquals(r.coldSha256(), r.hostSha256(), "the layer grown on the host, no appliance");
    String info = Tools.run(List.of("qemu-img", "info", "--output=json", r.image().toString()), tmp, 60).ok().out();
    assertTrue(info.replaceAll("\\s", "").contains("\"virtual-size\":" + (10L << 30) + ","), info);
    assertNotEquals(sha256(SuiteImages.get(SuiteImage.WORKER).image()), r.coldSha256(), "another disk, other bytes");
  }
}
