package io.hypervisor.assembler.stepcache;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.hypervisor.assembler.model.Digest;
import io.hypervisor.assembler.model.NamedLock;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Layers on disk: {@code <cache>/steps/layers/<key>/} holds {@code layer.qcow2} (backed by the
 * base's blob through a relative path, so the cache directory can move) and {@code entry.json};
 * {@code steps/bases/<digest>.json} the facts read from a base (these and a layer's {@code records/}
 * begin with their own sha256 line, checked at each read); {@code steps/tmp/} what is being
 * written. An entry is staged whole in {@code tmp} and appears by one rename, so a reader sees a
 * complete layer or none, whatever was killed when; two builds staging the same key both finish
 * and the second rename loses harmlessly. Removal renames into {@code tmp} first for the same
 * reason. gc runs under the content store's exclusive lock, so no build uses a layer it removes.
 * {@code steps/claims/} holds the lock files of {@link #claim}: who is making a layer or reading a
 * base's facts now, so that another build of the same key waits for that layer instead of making
 * it again.
 */
public final class StepCache {
  /** Bump when the cached steps change what they write: old layers then stop matching. */
  public static final int FORMAT = 1;

  /**
   * What a layer is: its key (digest and text), base (digest, format, and the path the layer names
   * it by, relative to the layer's directory when the base is a blob), the package files it holds,
   * the steps, its size and sha256.
   */
  public record Entry(String key, String keyText, String base, String baseFormat, String backing,
      List<String> packages, List<String> steps, long size, String sha256) {
    public Entry {
      packages = List.copyOf(packages);
      steps = List.copyOf(steps);
    }
  }

  /** A layer found in the cache: its file, entry and when it was last used (or made). */
  public record Layer(Path file, Entry entry, Instant lastUsed) {}

  /** What gc did. */
  public record GcResult(int removed, long bytesFreed, int kept) {}

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  static final String LAYER = "layer.qcow2";
  static final String ENTRY = "entry.json";
  static final String TREE = "tree";

  private final Path root;

  private StepCache(Path root) {
    this.root = root;
  }

  /** The step cache inside a content store's directory (created on first use). */
  public static StepCache open(Path cacheDir) throws IOException {
    Path root = cacheDir.resolve("steps");
    for (String d : List.of("layers", "bases", "tmp", "claims")) {
      Files.createDirectories(root.resolve(d));
    }
    return new StepCache(root);
  }

  public Path root() {
    return root;
  }

  private static final String RECORDS = "records";

  private Path dir(Digest key) {
    return root.resolve("layers").resolve(key.encoded());
  }

  /**
   * The layer of this key, checked first: a layer whose bytes no longer hash to its entry's
   * sha256 (or whose entry cannot be read) is removed and reported through {@code warn}, and the
   * build goes on without it. A layer found is marked used now (gc's age rule).
   */
  public Optional<Layer> find(Digest key, Consumer<String> warn) throws IOException {
    Path dir = dir(key);
    if (!Files.isDirectory(dir)) {
      return Optional.empty();
    }
    Entry entry;
    try {
      entry = JSON.readValue(Files.readAllBytes(dir.resolve(ENTRY)), Entry.class);
    } catch (NoSuchFileException e) {
      return Optional.empty(); // removed by another process just now
    } catch (IOException e) {
      warn.accept("the cached layer " + key.encoded().substring(0, 12) + " has an unreadable entry (" + e.getMessage()
          + "); removed, the steps run again");
      remove(dir);
      return Optional.empty();
    }
    Path file = dir.resolve(LAYER);
    String actual;
    try (InputStream in = Files.newInputStream(file)) {
      actual = Digest.of("sha256", in).encoded();
    } catch (NoSuchFileException e) {
      actual = "missing";
    }
    if (!actual.equals(entry.sha256()) || !entry.key().equals(key.toString())) {
      warn.accept("the cached layer " + key.encoded().substring(0, 12) + " is corrupt (its sha256 is " + actual
          + ", its entry says " + entry.sha256() + "); removed, the steps run again");
      remove(dir);
      return Optional.empty();
    }
    Instant now = Instant.now();
    try {
      Files.setLastModifiedTime(dir.resolve(ENTRY), FileTime.from(now));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    return Optional.of(new Layer(file, entry, now));
  }

  /** A build's claim on making one thing (see {@link #claim}); close() ends it. */
  public static final class Claim implements AutoCloseable {
    private final NamedLock lock;

    private Claim(NamedLock lock) {
      this.lock = lock;
    }

    @Override
    public void close() throws IOException {
      lock.close();
    }
  }

  /**
   * Claims {@code name} (a key's digest, or {@code base-} and a base's digest) for this build,
   * waiting while another build holds it, in this process or another ({@code waiting} hears it
   * once): a build that finds no layer claims its key before making it, so a second build of the
   * same key waits for that layer instead of installing the same packages beside it, then looks
   * again. A build that ends, fails or is killed ends its claim (the system drops a dead
   * process's lock).
   */
  public Claim claim(String name, Runnable waiting) throws IOException {
    return claim(name, waiting, true).orElseThrow();
  }

  /** The same without waiting: empty when another build holds it. */
  public Optional<Claim> tryClaim(String name) throws IOException {
    return claim(name, () -> { }, false);
  }

  private Optional<Claim> claim(String name, Runnable waiting, boolean wait) throws IOException {
    if (!name.matches("[a-z0-9-]{1,200}")) {
      throw new IllegalArgumentException("claim name " + name);
    }
    Path file = root.resolve("claims").resolve(name + ".lock");
    return (wait ? Optional.of(NamedLock.acquire(file, waiting)) : NamedLock.tryAcquire(file)).map(Claim::new);
  }

  /** A new layer being written: {@link #file()} is where it goes; nothing is visible before {@link #publish}. */
  public final class Staging implements AutoCloseable {
    private final Path dir;
    private boolean published;

    private Staging(Path dir) {
      this.dir = dir;
    }

    /** Where the layer's qcow2 goes (its directory is as deep in the cache as the final one). */
    public Path file() {
      return dir.resolve(LAYER);
    }

    /**
     * Makes the staged layer the key's entry by one rename. When another build published the same
     * key first, its layer stays and this one is dropped (same inputs, same content).
     */
    public Layer publish(Entry entry) throws IOException {
      Files.write(dir.resolve(ENTRY), JSON.writeValueAsBytes(entry));
      Path target = dir(Digest.parse(entry.key()));
      try {
        Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
        published = true;
        return new Layer(target.resolve(LAYER), entry, Instant.now());
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the step cache " + root + " cannot rename within itself: " + e.getMessage(), e);
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
        return new Layer(target.resolve(LAYER), entry, Instant.now()); // close() drops ours
      } catch (java.nio.file.FileSystemException e) {
        // rename(2) onto a non-empty directory fails with ENOTEMPTY, which the JDK reports as a
        // plain FileSystemException: another build published this key first.
        if (Files.isDirectory(target)) {
          return new Layer(target.resolve(LAYER), entry, Instant.now());
        }
        throw e;
      }
    }

    @Override
    public void close() throws IOException {
      if (!published) {
        io.hypervisor.assembler.model.FileTrees.delete(dir);
      }
    }
  }

  /** Starts a new layer in {@code tmp}. */
  public Staging stage() throws IOException {
    Path dir = root.resolve("tmp").resolve(UUID.randomUUID().toString());
    Files.createDirectories(dir);
    return new Staging(dir);
  }

  /** The directory of the tree saved beside a layer (its files as a build read them), if one was saved. */
  public Optional<Path> tree(Layer layer) {
    Path d = layer.file().getParent().resolve(TREE);
    return Files.isDirectory(d) ? Optional.of(d) : Optional.empty();
  }

  /** Bytes of the tree saved beside a layer (0 when none): as large as the root's files. */
  public long treeBytes(Layer layer) throws IOException {
    return size(layer.file().getParent().resolve(TREE));
  }

  /** What writes a tree's files into a directory. */
  @FunctionalInterface
  public interface TreeWriter {
    void write(Path dir) throws IOException;
  }

  /**
   * Saves a tree beside the layer of {@code key}: {@code writer} fills a directory in {@code tmp},
   * which then appears by one rename. A tree already there stays (the same layer read the same
   * way), and a layer removed meanwhile takes nothing.
   */
  public void putTree(Digest key, TreeWriter writer) throws IOException {
    Path target = dir(key).resolve(TREE);
    if (!Files.isDirectory(dir(key)) || Files.exists(target)) {
      return;
    }
    Path stage = root.resolve("tmp").resolve(UUID.randomUUID() + "-tree");
    Files.createDirectories(stage);
    try {
      writer.write(stage);
      Files.move(stage, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (FileAlreadyExistsException | DirectoryNotEmptyException | NoSuchFileException e) {
      // another build saved it first, or the layer is gone
    } catch (java.nio.file.FileSystemException e) {
      if (!Files.isDirectory(target)) { // ENOTEMPTY arrives as a plain FileSystemException
        throw e;
      }
    } finally {
      io.hypervisor.assembler.model.FileTrees.delete(stage);
    }
  }

  /**
   * What a command printed when it ran on this layer's files, under {@code id} (the sha256 of the
   * command and of every file it may run, which the caller checks): kept so a build that does not
   * launch an appliance can answer the same question. Empty when none is kept.
   */
  public Optional<String> record(Digest key, String id) throws IOException {
    return unsealed(dir(key).resolve(RECORDS).resolve(recordName(id)))
        .map(b -> new String(b, java.nio.charset.StandardCharsets.UTF_8));
  }

  /**
   * Whether any record is kept beside the layer of {@code key} (a first build from it finds none:
   * its maker keeps its record last).
   */
  public boolean hasRecords(Digest key) throws IOException {
    Path dir = dir(key).resolve(RECORDS);
    if (!Files.isDirectory(dir)) {
      return false;
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.findAny().isPresent();
    }
  }

  /**
   * A small file's bytes after the sha256 line it was written with ({@link #sealed}); empty when
   * it is missing, or when its bytes no longer hash to that line (a torn or damaged file, or one an
   * older version wrote without it), which is then removed: the build reads its base or runs the
   * check again, as if nothing had been kept, and keeps a good one.
   */
  private static Optional<byte[]> unsealed(Path f) throws IOException {
    byte[] all;
    try {
      all = Files.readAllBytes(f);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    int nl = 0;
    while (nl < all.length && all[nl] != '\n') {
      nl++;
    }
    byte[] body = nl < all.length ? java.util.Arrays.copyOfRange(all, nl + 1, all.length) : null;
    String seal = new String(all, 0, nl, java.nio.charset.StandardCharsets.US_ASCII);
    if (body == null || !seal.equals("sha256:" + Digest.sha256(body).encoded())) {
      Files.deleteIfExists(f);
      return Optional.empty();
    }
    return Optional.of(body);
  }

  /** {@code body} after a line holding its sha256, written whole into {@code stage} (then renamed into place). */
  private static void sealed(Path stage, byte[] body) throws IOException {
    byte[] seal = ("sha256:" + Digest.sha256(body).encoded() + "\n")
        .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    byte[] all = java.util.Arrays.copyOf(seal, seal.length + body.length);
    System.arraycopy(body, 0, all, seal.length, body.length);
    Files.write(stage, all);
  }

  /** A record's file name: its id, a sha256 in hex (nothing that could name another path). */
  private static String recordName(String id) {
    if (!id.matches("[0-9a-f]{64}")) {
      throw new IllegalArgumentException("a step cache record id is a sha256 in hex, not " + id);
    }
    return id;
  }

  /** Keeps a record beside the layer of {@code key} (one rename; a layer removed meanwhile takes nothing). */
  public void putRecord(Digest key, String id, String text) throws IOException {
    recordName(id);
    if (!Files.isDirectory(dir(key))) {
      return;
    }
    Path stage = root.resolve("tmp").resolve(UUID.randomUUID() + "-record");
    Files.createDirectories(stage.getParent());
    sealed(stage, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    try {
      Path dir = Files.createDirectories(dir(key).resolve(RECORDS));
      Files.move(stage, dir.resolve(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (NoSuchFileException e) {
      // the layer is gone
    } finally {
      Files.deleteIfExists(stage);
    }
  }

  /** Removes a layer's saved tree (unreadable or corrupt: the next build reads the files again). */
  public void removeTree(Layer layer) throws IOException {
    remove(layer.file().getParent().resolve(TREE));
  }

  /** Every layer, newest use first (entries that cannot be read are skipped). */
  public List<Layer> list() throws IOException {
    List<Layer> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(root.resolve("layers"))) {
      for (Path dir : s.toList()) {
        try {
          Entry e = JSON.readValue(Files.readAllBytes(dir.resolve(ENTRY)), Entry.class);
          out.add(new Layer(dir.resolve(LAYER), e, Files.getLastModifiedTime(dir.resolve(ENTRY)).toInstant()));
        } catch (IOException e) {
          // half-removed or foreign: gc removes it
        }
      }
    }
    out.sort(Comparator.comparing(Layer::lastUsed).reversed());
    return out;
  }

  /** The recorded facts of a base, if a build recorded them. */
  public Optional<byte[]> facts(Digest base) throws IOException {
    return unsealed(root.resolve("bases").resolve(base.encoded() + ".json"));
  }

  /** Records a base's facts (written whole with their sha256, then renamed). */
  public void putFacts(Digest base, byte[] json) throws IOException {
    Path tmp = root.resolve("tmp").resolve(UUID.randomUUID() + ".json");
    sealed(tmp, json);
    Files.move(tmp, root.resolve("bases").resolve(base.encoded() + ".json"), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }

  /** Whether a layer's base file is still there (a blob removed by gc, a moved file: the layer is useless). */
  public boolean baseExists(Layer layer) {
    return Files.isRegularFile(layer.file().getParent().resolve(layer.entry().backing()));
  }

  /**
   * Removes every layer that {@code keep} does not keep and that was not used after {@code cutoff}
   * (null: no age rule), every layer whose base file is gone, unreadable entries, base facts that
   * no layer and no blob ({@code blobExists}) needs any more, and everything left in {@code tmp}.
   * The caller holds the content store's exclusive lock: no build is running, so nothing in
   * {@code tmp} is still being written and no layer is in use.
   */
  public GcResult gc(Predicate<Entry> keep, Instant cutoff, Predicate<Digest> blobExists) throws IOException {
    int removed = 0;
    int kept = 0;
    long freed = 0;
    java.util.Set<String> bases = new java.util.HashSet<>();
    try (Stream<Path> s = Files.list(root.resolve("layers"))) {
      for (Path dir : s.toList()) {
        Layer layer = null;
        try {
          Entry e = JSON.readValue(Files.readAllBytes(dir.resolve(ENTRY)), Entry.class);
          layer = new Layer(dir.resolve(LAYER), e, Files.getLastModifiedTime(dir.resolve(ENTRY)).toInstant());
        } catch (IOException | RuntimeException unreadable) {
          // removed below
        }
        boolean keepIt = layer != null && baseExists(layer)
            && (keep.test(layer.entry()) || (cutoff != null && layer.lastUsed().isAfter(cutoff)));
        if (keepIt) {
          kept++;
          bases.add(Digest.parse(layer.entry().base()).encoded());
        } else {
          freed += size(dir);
          remove(dir);
          removed++;
        }
      }
    }
    try (Stream<Path> s = Files.list(root.resolve("bases"))) {
      for (Path f : s.toList()) {
        String name = f.getFileName().toString();
        boolean needed = name.matches("[0-9a-f]{64}\\.json") && (bases.contains(name.substring(0, 64))
            || blobExists.test(Digest.ofSha256Hex(name.substring(0, 64))));
        if (!needed) {
          freed += Files.size(f);
          Files.deleteIfExists(f);
        }
      }
    }
    try (Stream<Path> s = Files.list(root.resolve("tmp"))) {
      for (Path p : s.toList()) {
        freed += size(p);
        io.hypervisor.assembler.model.FileTrees.delete(p);
      }
    }
    return new GcResult(removed, freed, kept);
  }

  private void remove(Path dir) throws IOException {
    Path gone = root.resolve("tmp").resolve(UUID.randomUUID() + "-removed");
    try {
      Files.move(dir, gone, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return; // another process removed it first
    }
    io.hypervisor.assembler.model.FileTrees.delete(gone);
  }

  private static long size(Path p) throws IOException {
    if (!Files.exists(p)) {
      return 0;
    }
    try (Stream<Path> s = Files.walk(p)) {
      long total = 0;
      for (Path f : s.filter(Files::isRegularFile).toList()) {
        total += Files.size(f);
      }
      return total;
    }
  }

}
