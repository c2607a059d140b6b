package io.hypervisor.assembler.hostile;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recipes, the files they extend, locks, plans and keys as an attacker (or a slip of the
 * keyboard) would give them: special files, huge files, aliases, absurd numbers, deep overrides,
 * a secret file as {@code extends:}. Every case ends in exit 2 and one clear line, fast, and
 * never echoes a file that is not a recipe.
 */
class HostileRecipeTest {
  static final Duration FAST = Duration.ofSeconds(20);
  static final String OK = """
      apiVersion: assemble.hypervisor.io/v1
      kind: NodeImage
      base: {path: base.qcow2, os: debian-12}
      kubernetes: {version: 1.34.2, role: worker}
      """;

  @TempDir
  Path dir;

  Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  @Test
  void aFifoAsTheRecipeIsRefusedNotWaitedOn() throws Exception {
    Path f = Cli.fifo(dir.resolve("recipe.yaml"));
    Cli.refused(2, "not a regular file", FAST, "plan", f.toString());
  }

  @Test
  void aFifoOrADeviceAsExtendsIsRefused() throws Exception {
    Cli.fifo(dir.resolve("shared.yaml"));
    Cli.refused(2, "not a regular file", FAST, "plan", write("r.yaml", OK + "extends: shared.yaml\n").toString());
    Cli.refused(2, "not a regular file", FAST, "plan", write("z.yaml", OK + "extends: /dev/zero\n").toString());
    Cli.refused(2, "is a directory", FAST, "plan", write("d.yaml", OK + "extends: /etc\n").toString());
  }

  @Test
  void extendingASecretFileNeverEchoesIt() throws IOException {
    write("shadow", "root:$6$salt$hash:19000:0:99999:7:::\nadmin: hunter2\nsecret_key: AKIAEXAMPLESECRET\n");
    Cli.Run r = Cli.refused(2, "is not a recipe defaults file", FAST, "plan",
        write("r.yaml", OK + "extends: shadow\n").toString());
    for (String leak : new String[] {"hunter2", "AKIAEXAMPLESECRET", "secret_key", "admin", "$6$"}) {
      assertFalse(r.err().contains(leak), "echoes " + leak + ": " + r.err());
    }
    // and a file that is not YAML at all
    Files.write(dir.resolve("binary"), new byte[] {0x7f, 'E', 'L', 'F', 0, 1, 2, (byte) 0xff, ':', '\n', '{', '['});
    Cli.Run b = Cli.refused(2, "binary", FAST, "plan", write("b.yaml", OK + "extends: binary\n").toString());
    assertFalse(b.err().contains("ELF"), b.err());
  }

  @Test
  void aHugeRecipeIsRefusedBeforeItIsRead() throws IOException {
    Path big = write("big.yaml", OK + "# " + "x".repeat(2 << 20) + "\n");
    Cli.refused(2, "at most", FAST, "plan", big.toString());
  }

  @Test
  void yamlAliasesAreRefusedNotReadAsTheAnchorsName() throws IOException {
    Cli.Run r = Cli.refused(2, "YAML aliases (*v) are not supported", FAST, "plan",
        write("a.yaml", OK + "x-anchor: &v real-name\nname: *v\n").toString());
    assertFalse(r.out().contains("plan v"), r.out());
  }

  @Test
  void sizesAndVersionsThatWouldOverflowAreInputErrors() throws IOException {
    Cli.refused(2, "is not a size", FAST, "plan", write("s.yaml", OK + "disk: {size: 99999999999T}\n").toString());
    Cli.refused(2, "is not a size", FAST, "plan",
        write("s2.yaml", OK + "disk: {size: 99999999999999999999999}\n").toString());
    Cli.refused(2, "larger than a qcow2 image can be", FAST, "plan",
        write("s3.yaml", OK + "disk: {size: 100000T}\n").toString());
    Cli.refused(2, "is not a Kubernetes version", FAST, "plan",
        write("v.yaml", OK.replace("1.34.2", "1.34.99999999999")).toString());
    Cli.refused(2, "is not a containerd version", FAST, "plan",
        write("c.yaml", OK + "containerd: {version: \"2.99999999999\"}\n").toString());
    Cli.refused(2, "malformed version \"99999999999\" of debian", FAST, "plan",
        write("o.yaml", OK.replace("debian-12", "debian-99999999999")).toString());
  }

  @Test
  void aDeepOverridePathIsRefused() throws IOException {
    Path r = write("r.yaml", OK);
    Cli.refused(2, "a recipe is at most 16 deep", FAST, "plan", r.toString(), "--set", "a" + ".a".repeat(1999) + "=1");
  }

  @Test
  void specialOrHugeLocksPlansAndKeysAreRefused() throws Exception {
    Path r = write("r.yaml", OK);
    Path fifo = Cli.fifo(dir.resolve("lock.json"));
    Cli.refused(2, "not a regular file", FAST, "verify", "image.qcow2", "--recipe", r.toString(), "--lock",
        fifo.toString());
    Cli.refused(2, "not a regular file", FAST, "verify", "image.qcow2", "--plan", "/dev/zero");
    Cli.refused(2, "not a regular file", FAST, "bundle", "verify", write("b.tar", "x").toString(), "--trust-key",
        "/dev/zero");
    Cli.refused(2, "not a regular file", FAST, "fetch", r.toString(), "--bundle", dir.resolve("o.tar").toString(),
        "--sign-key", "/dev/zero");
  }

  /** Property: whatever bytes a recipe holds, the answer is exit 0 or 2 with a clear message, never a hang or a trace. */
  @RepeatedTest(40)
  void randomRecipesEndInAClearAnswer(org.junit.jupiter.api.RepetitionInfo info) throws IOException {
    Random rnd = new Random(info.getCurrentRepetition() * 7919L);
    String[] pieces = {"apiVersion: assemble.hypervisor.io/v1\n", "kind: NodeImage\n", "kind: NodeImageDefaults\n",
        "base: {path: b.qcow2, os: debian-12}\n", "base: {os: rocky-9, url: ftp://x}\n", "kubernetes: {version: 1.34.2}\n",
        "kubernetes: {version: 1.34.2, role: worker}\n", "kubernetes: {version: \"1." + rnd.nextLong() + ".0\"}\n",
        "disk: {size: " + rnd.nextLong() + "G}\n", "name: ../../etc/passwd\n", "name: &a x\n", "images: *a\n",
        "packages: [\"" + "\\u0000".repeat(3) + "\"]\n", "mirrors: {registry.k8s.io: [file:///etc/passwd]}\n",
        "repositories: [{name: x, type: apt, url: http://x, suite: s, key: {path: /dev/zero, fingerprint: A}}]\n",
        "extends: /proc/self/environ\n", "sysctl: {a: [1, 2]}\n", "output: {path: /dev/null, compression: lzma}\n",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n", "{a: {b: {c: {d: {e: {f: {g: {h: 1}}}}}}}}\n",
        "\t\tbad indentation\n", "kubernetes: {version: 1.34.2, role: worker, cni: {name: cilium, version: 9" + "9".repeat(30)
            + "}}\n"};
    StringBuilder b = new StringBuilder();
    for (int i = 0, n = 1 + rnd.nextInt(8); i < n; i++) {
      b.append(pieces[rnd.nextInt(pieces.length)]);
    }
    Cli.Run r = Cli.run(FAST, "plan", write("p.yaml", b.toString()).toString());
    assertTrue(r.code() == 0 || r.code() == 2, b + " → " + r.code() + ": " + r.err());
    Cli.clear(r);
  }
}
