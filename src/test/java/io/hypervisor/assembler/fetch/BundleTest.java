package io.hypervisor.assembler.fetch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.hypervisor.assembler.content.ContentStore;
import io.hypervisor.assembler.model.Digest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bundle container: round trip into a fresh store, and every way a bundle can be wrong, all listed. */
class BundleTest {
  @TempDir
  Path tmp;

  record Written(byte[] bytes, Bundle.Manifest manifest, Digest deb, Digest layer) {}

  Written write(ContentStore store, byte[] signature, List<Bundle.Item> extra) throws IOException {
    Digest deb = store.put("a kubelet .deb".getBytes(StandardCharsets.UTF_8));
    Digest layer = store.put("an image layer".getBytes(StandardCharsets.UTF_8));
    Bundle.SmallFile lock = Bundle.small("lock.json", "lock", "{\"packages\":[]}".getBytes(StandardCharsets.UTF_8));
    List<Bundle.Item> items = new java.util.ArrayList<>(List.of(lock.item(),
        Bundle.blob("package", "kubelet 1.34.2-1.1", deb, store.size(deb)),
        Bundle.blob("image-blob", "registry.k8s.io/pause:3.10.1", layer, store.size(layer)),
        Bundle.blob("image-blob", "registry.k8s.io/etcd:3.6.5-0", layer, store.size(layer))));
    items.addAll(extra);
    Bundle.Manifest m = new Bundle.Manifest(Bundle.FORMAT, "test-world-worker", items);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Bundle.write(Channels.newChannel(out), store, m, signature, List.of(lock));
    return new Written(out.toByteArray(), m, deb, layer);
  }

  @Test
  void roundTripIntoAFreshStoreWithSharedBlobsOnce() throws IOException {
    Written w = write(ContentStore.open(tmp.resolve("a")), null, List.of());
    ContentStore fresh = ContentStore.open(tmp.resolve("b"));
    Bundle.Contents c = Bundle.read(new ByteArrayInputStream(w.bytes()), fresh, null);
    assertEquals(List.of(), c.problems());
    assertEquals(w.manifest(), c.manifest());
    assertFalse(c.signed());
    assertTrue(fresh.contains(w.deb()) && fresh.contains(w.layer()));
    assertArrayEquals("{\"packages\":[]}".getBytes(StandardCharsets.UTF_8), c.files().get("lock.json"));
    assertTrue(Bundle.describe(c.manifest()).contains("kubelet 1.34.2-1.1"));
  }

  @Test
  void aTamperedBlobAndAMissingItemAreBothListed() throws IOException {
    ContentStore store = ContentStore.open(tmp.resolve("a"));
    Digest ghost = Digest.sha256("never stored".getBytes(StandardCharsets.UTF_8));
    Written w = write(store, null, List.of());
    // flip one byte of the .deb's content inside the tar
    byte[] tampered = w.bytes().clone();
    int at = indexOf(tampered, "a kubelet .deb".getBytes(StandardCharsets.UTF_8));
    tampered[at] = 'A';
    Bundle.Manifest withGhost = new Bundle.Manifest(Bundle.FORMAT, "x", concat(w.manifest().items(),
        Bundle.blob("image-blob", "quay.io/cilium/cilium:v1.19.3", ghost, 12)));
    // the same tar with a manifest that also lists a blob the tar lacks
    byte[] relisted = replaceManifest(tampered, withGhost);
    ContentStore fresh = ContentStore.open(tmp.resolve("b"));
    Bundle.Contents c = Bundle.read(new ByteArrayInputStream(relisted), fresh, null);
    assertEquals(2, c.problems().size(), c.problems().toString());
    assertTrue(c.problems().get(0).startsWith("bad package kubelet 1.34.2-1.1"), c.problems().toString());
    assertTrue(c.problems().get(1).startsWith("missing image-blob quay.io/cilium/cilium:v1.19.3"), c.problems().toString());
    assertFalse(fresh.contains(w.deb()), "a bad blob never enters the store");
  }

  @Test
  void aBadSignatureLetsNothingIn() throws IOException {
    Written w = write(ContentStore.open(tmp.resolve("a")), "-----BEGIN PGP SIGNATURE-----".getBytes(StandardCharsets.UTF_8),
        List.of());
    ContentStore fresh = ContentStore.open(tmp.resolve("b"));
    Bundle.Contents c = Bundle.read(new ByteArrayInputStream(w.bytes()), fresh, (m, s) -> {
      throw new IOException("no valid signature by the trusted key");
    });
    assertEquals(List.of("signature: no valid signature by the trusted key"), c.problems());
    assertTrue(c.signed());
    assertFalse(fresh.contains(w.deb()));
    Bundle.Contents unsigned = Bundle.read(new ByteArrayInputStream(write(ContentStore.open(tmp.resolve("c")), null,
        List.of()).bytes()), ContentStore.open(tmp.resolve("d")), (m, s) -> { });
    assertEquals("signature: the bundle is not signed, and a trusted key was given", unsigned.problems().get(0));
  }

  @Test
  void notABundleSaysSo() {
    IOException e = assertThrows(IOException.class, () -> Bundle.read(new ByteArrayInputStream(new byte[1024]),
        ContentStore.open(tmp.resolve("a")), null));
    assertTrue(e.getMessage().startsWith("not an assemble bundle"), e.getMessage());
  }

  private static List<Bundle.Item> concat(List<Bundle.Item> a, Bundle.Item b) {
    List<Bundle.Item> out = new java.util.ArrayList<>(a);
    out.add(b);
    return out;
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }

  /** The same tar with another manifest as its first entry, every other entry copied byte for byte. */
  private static byte[] replaceManifest(byte[] tar, Bundle.Manifest m) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar));
        TarArchiveOutputStream t = new TarArchiveOutputStream(out)) {
      for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        byte[] data = e.getName().equals(Bundle.MANIFEST) ? Bundle.manifestJson(m) : in.readAllBytes();
        TarArchiveEntry copy = new TarArchiveEntry(e.getName());
        copy.setSize(data.length);
        t.putArchiveEntry(copy);
        t.write(data);
        t.closeArchiveEntry();
      }
    }
    return out.toByteArray();
  }

  @Test
  void aRealSignatureVerifiesWithItsKeyAndNotWithAnother() throws IOException {
    io.hypervisor.assembler.pkgrepo.TestKeys.Pair key = io.hypervisor.assembler.pkgrepo.TestKeys.keyPair("Site <s@x>");
    byte[] manifest = "{\"format\":1}".getBytes(StandardCharsets.UTF_8);
    byte[] sig = io.hypervisor.assembler.pkgrepo.Signatures.sign(manifest, key.secret(), new char[0], "manifest");
    io.hypervisor.assembler.pkgrepo.Signatures.verifyDetached(manifest, sig,
        io.hypervisor.assembler.pkgrepo.Signatures.keyring(key.publicKey()), "manifest");
    assertThrows(IOException.class, () -> io.hypervisor.assembler.pkgrepo.Signatures.verifyDetached(
        "{\"format\":2}".getBytes(StandardCharsets.UTF_8), sig,
        io.hypervisor.assembler.pkgrepo.Signatures.keyring(key.publicKey()), "manifest"));
    assertThrows(IOException.class, () -> io.hypervisor.assembler.pkgrepo.Signatures.verifyDetached(manifest, sig,
        io.hypervisor.assembler.pkgrepo.Signatures.keyring(
            io.hypervisor.assembler.pkgrepo.TestKeys.armoredPublicKey("Other <o@x>")), "manifest"));
  }
}
