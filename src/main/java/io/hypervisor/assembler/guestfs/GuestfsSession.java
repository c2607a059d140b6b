package io.hypervisor.assembler.guestfs;

import com.redhat.et.libguestfs.GuestFS;
import com.redhat.et.libguestfs.LibGuestFSException;
import io.hypervisor.assembler.events.EventSink;
import io.hypervisor.assembler.model.Accelerator;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A disk image opened through one libguestfs appliance (direct backend): the disk (read-only, or
 * a work overlay opened read-write with cachemode=unsafe), optional read-only attachments (tar
 * files as raw drives, for bulk data), inspection, and every file system mounted where the guest
 * mounts it. A watchdog kills the appliance's qemu when the launch takes longer than the timeout
 * (KVM hangs on some hosts), so the build fails instead of waiting forever.
 */
public final class GuestfsSession implements ImageSession {
  /** Makes a named pipe (POSIX mkfifo); the caller provides it, since only {@code sys} binds libc. */
  @FunctionalInterface
  public interface FifoMaker {
    void mkfifo(Path path) throws IOException;
  }

  /**
   * How to open the image. {@code growRoot}: grow the root partition (the physically last one)
   * and its file system to the end of the disk, whose virtual size the caller already set, or
   * with {@code growTo} (bytes, 0: the disk's end) as if the disk ended there: the disk a step
   * cache layer is taken from, whatever the build's own disk size (see {@link #growRoot()}).
   * {@code known}: what an earlier inspection of the same disk layout found (null: inspect now).
   */
  public record Options(Path disk, String format, boolean readOnly, List<Path> attachments, Accelerator accelerator,
      int memoryMiB, int cpus, Duration launchTimeout, boolean growRoot, Path workDir, FifoMaker fifos,
      OsInfo known, long growTo) {
    public Options {
      attachments = List.copyOf(attachments);
    }

    public Options(Path disk, String format, boolean readOnly, List<Path> attachments, Accelerator accelerator,
        int memoryMiB, int cpus, Duration launchTimeout, boolean growRoot, Path workDir, FifoMaker fifos) {
      this(disk, format, readOnly, attachments, accelerator, memoryMiB, cpus, launchTimeout, growRoot, workDir, fifos,
          null, 0);
    }

    /**
     * The same, trusting {@code os} (an earlier inspection of this disk's base, whose layout the
     * build's cached steps do not change) instead of inspecting again: inspection reads the guest's
     * files for 11-13 s under TCG.
     */
    public Options withKnownOs(OsInfo os) {
      return new Options(disk, format, readOnly, attachments, accelerator, memoryMiB, cpus, launchTimeout, growRoot,
          workDir, fifos, os, growTo);
    }

    /** Reading a disk's files: read-only, no attachments, defaults for memory and CPUs. */
    public static Options readOnly(Path disk, String format, Accelerator accelerator, Duration launchTimeout) {
      return new Options(disk, format, true, List.of(), accelerator, 1280, 2, launchTimeout, false, null, null);
    }

    /** The same with a work directory and FIFO maker, for tar streams out of a read-only disk. */
    public Options withStreams(Path dir, FifoMaker maker) {
      return new Options(disk, format, readOnly, attachments, accelerator, memoryMiB, cpus, launchTimeout, growRoot,
          dir, maker, known, growTo);
    }

    /** The same disk opened read-only, as it is (no grow): reading what a closed build disk holds. */
    public Options asReadOnly() {
      return new Options(disk, format, true, attachments, accelerator, memoryMiB, cpus, launchTimeout, false, workDir,
          fifos, known, 0);
    }

    /** The same without the grow: a closed build disk, grown before. */
    public Options grown() {
      return new Options(disk, format, readOnly, attachments, accelerator, memoryMiB, cpus, launchTimeout, false,
          workDir, fifos, known, 0);
    }

    /** The same, the root grown as if the disk ended after {@code bytes} (0: at its end). */
    public Options growingTo(long bytes) {
      return new Options(disk, format, readOnly, attachments, accelerator, memoryMiB, cpus, launchTimeout, growRoot,
          workDir, fifos, known, bytes);
    }

    /** The same with {@code n} virtual CPUs. */
    public Options withCpus(int n) {
      return new Options(disk, format, readOnly, attachments, accelerator, memoryMiB, n, launchTimeout, growRoot,
          workDir, fifos, known, growTo);
    }

    /**
     * Building on a work overlay: written with cachemode=unsafe, memory for package managers
     * (dnf wants more than apt), two CPUs (tar_in runs 70 % faster with a second one).
     */
    public static Options build(Path overlay, Accelerator accelerator, Duration launchTimeout, Path workDir,
        FifoMaker fifos) {
      return new Options(overlay, "qcow2", false, List.of(), accelerator, 2048, 2, launchTimeout, true, workDir, fifos);
    }
  }

  private final GuestFS g;
  private final OsInfo os;
  private final EventSink events;
  private final List<String> mountOrder;
  private final Options options;
  private int logs;
  private boolean closed;
  private String prelude = "";
  /** The first disk's GPT as the grow left it (null: not read yet, or not one {@link Gpt} handles). */
  private Gpt table;
  /** File system types by partition, as the quick identification's blkid found them (empty: not run). */
  private final Map<String, String> fsTypes;

  private GuestfsSession(GuestFS g, OsInfo os, List<String> mountOrder, EventSink events, Options options, Gpt table,
      Map<String, String> fsTypes) {
    this.g = g;
    this.os = os;
    this.mountOrder = mountOrder;
    this.events = events;
    this.options = options;
    this.table = table;
    this.fsTypes = Map.copyOf(fsTypes);
  }

  private static final java.util.concurrent.atomic.AtomicInteger LAUNCHES = new java.util.concurrent.atomic.AtomicInteger();

  /** How many appliances this process has launched (each costs tens of seconds under TCG). */
  public static int launches() {
    return LAUNCHES.get();
  }

  /** Launches the appliance, inspects the disk and mounts its file systems. */
  public static GuestfsSession open(Options o, EventSink events) throws IOException {
    GuestFS g;
    try {
      g = new GuestFS(Map.of("close_on_exit", Boolean.TRUE));
    } catch (LibGuestFSException | UnsatisfiedLinkError | NoClassDefFoundError e) {
      throw new IOException("cannot create a libguestfs handle: " + e.getMessage() + " (run assemble doctor)", e);
    }
    boolean ok = false;
    try (EventSink.Step step = events.step("launch appliance", o.disk().getFileName() + " (" + o.accelerator() + ")")) {
      g.set_backend("direct");
      if (o.accelerator() == Accelerator.TCG) {
        g.set_backend_setting("force_tcg", "1");
        events.debug(PvhAppliance.apply(g));
      }
      g.set_memsize(o.memoryMiB());
      g.set_smp(o.cpus());
      g.set_network(false);
      Map<String, Object> disk = new HashMap<>();
      disk.put("format", o.format());
      if (o.readOnly()) {
        disk.put("readonly", Boolean.TRUE);
      } else {
        disk.put("cachemode", "unsafe");
        disk.put("discard", "besteffort");
      }
      g.add_drive_opts(o.disk().toString(), disk);
      for (Path a : o.attachments()) {
        g.add_drive_opts(a.toString(), Map.of("format", "raw", "readonly", Boolean.TRUE));
      }
      launch(g, o.accelerator() == Accelerator.TCG && o.launchTimeout().compareTo(TCG_LAUNCH) < 0 ? TCG_LAUNCH
          : o.launchTimeout());
      // A plain layout is read in ~1.5 s; libguestfs's inspection takes ~6.4 s under TCG.
      Map<String, String> fsTypes = new HashMap<>();
      OsInfo os = o.known() != null ? o.known() : QuickInspection.of(g, "/dev/sda", fsTypes).orElse(null);
      if (os == null) {
        events.debug("not a plain layout (LVM, btrfs, RAID or another file system): libguestfs inspects it");
        try {
          os = inspected(g);
        } catch (IOException e) {
          throw new IOException("inspecting " + o.disk() + ": " + e.getMessage(), e);
        }
      }
      Map<String, String> mps = os.mountpoints();
      Growth growth = o.growRoot() ? grow(g, mps.get("/"), fsTypes.get(mps.get("/")), o.growTo(), events)
          : new Growth(null, null);
      Gpt table = growth.table();
      List<String> order = new ArrayList<>(mps.keySet());
      // Parents before children, as inspect_mount_root does: the map is unordered.
      order.sort(Comparator.comparingInt(String::length).thenComparing(Comparator.naturalOrder()));
      mountAll(g, mps, order, o.readOnly(), events);
      if (growth.fs() != null) {
        growMounted(g, growth.fs(), events);
      }
      step.ok(os.distro() + " " + os.major() + "." + os.minor() + " " + os.arch());
      ok = true;
      return new GuestfsSession(g, os, order, events, o, table, fsTypes);
    } catch (LibGuestFSException e) {
      throw new IOException("opening " + o.disk() + " with libguestfs: " + e.getMessage(), e);
    } finally {
      if (!ok) {
        closeHandle(g);
      }
    }
  }

  /**
   * libguestfs's inspection of every disk the handle has, which must hold exactly one operating
   * system, named by its {@code /etc/os-release} where that says more (see {@link OsRelease}).
   * Leaves nothing mounted.
   */
  public static OsInfo inspected(GuestFS g) throws LibGuestFSException, IOException {
    String[] roots = g.inspect_os();
    if (roots.length != 1) {
      throw new IOException("found " + roots.length + " operating systems; expected exactly one");
    }
    return inspected(g, roots[0]);
  }

  /** The same for one of the roots inspection found ({@code inspect_os} ran). */
  public static OsInfo inspected(GuestFS g, String root) throws LibGuestFSException {
    Map<String, String> mps = g.inspect_get_mountpoints(root);
    String osRelease;
    g.mount_ro(root, "/");
    try {
      // /etc/os-release is a relative symlink to /usr/lib/os-release: realpath resolves it inside the image
      osRelease = g.is_file("/etc/os-release", Map.of("followsymlinks", Boolean.TRUE))
          ? g.read_file(g.realpath("/etc/os-release")) : null;
    } finally {
      g.umount_all();
    }
    OsRelease id = OsRelease.of(g.inspect_get_distro(root), g.inspect_get_major_version(root),
        g.inspect_get_minor_version(root), osRelease);
    return new OsInfo(g.inspect_get_type(root), id.distro(), id.major(), id.minor(), g.inspect_get_arch(root),
        g.inspect_get_package_format(root), root, mps);
  }

  /** Mounts the file systems parents first; only a failed root is fatal. */
  private static void mountAll(GuestFS g, Map<String, String> mps, List<String> order, boolean readOnly,
      EventSink events) throws LibGuestFSException {
    for (String mp : order) {
      try {
        if (readOnly) {
          g.mount_ro(mps.get(mp), mp);
        } else {
          g.mount(mps.get(mp), mp);
        }
      } catch (LibGuestFSException e) {
        if (!mp.equals("/")) {
          events.warn("could not mount " + mps.get(mp) + " on " + mp + ": " + e.getMessage());
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * umount_all writes every file system back (ext4 commits its journal with a cache flush); sync
   * then flushes each block device, and qemu writes its qcow2 caches back to the host file on a
   * flush even with cachemode=unsafe (only the host's fsync is skipped): the file is consistent
   * for readers on the host until the file systems are mounted again.
   */
  @Override
  public void quiesced(Quiesced action) throws IOException {
    try {
      g.umount_all();
      g.sync();
    } catch (LibGuestFSException e) {
      throw fail("unmounting for a snapshot of", options.disk().toString(), e);
    }
    try {
      action.run();
    } finally {
      try {
        mountAll(g, os.mountpoints(), mountOrder, options.readOnly(), events);
      } catch (LibGuestFSException e) {
        throw fail("mounting again after a snapshot of", options.disk().toString(), e);
      }
    }
  }

  /**
   * Grows the root file system's partition to the end of the (already enlarged) disk, then what
   * sits on it, before anything is mounted: ext4 directly; an LVM root's physical volume and its
   * logical volume to all the free space (Rocky's LVM image), then its ext4. xfs and btrfs (a
   * Fedora root subvolume: {@code btrfsvol:/dev/sda4/root}) follow once mounted
   * ({@link #growMounted}). Only a root whose partition is physically last can grow (cloud images
   * put it there for this reason). With {@code limit} (bytes, 0: none) a GPT that {@link Gpt}
   * handles is written for a disk of that size and the root ends there; parted's tables end the
   * root there and keep their backup at the disk's end.
   */
  private static Growth grow(GuestFS g, String root, String fs, long limit, EventSink events)
      throws LibGuestFSException {
    String partition = root;
    String lv = null;
    if (root != null && root.startsWith("btrfsvol:")) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("btrfsvol:(/dev/[sv]d[a-z]\\d+)/.*").matcher(root);
      partition = m.matches() ? m.group(1) : null;
    } else if (root != null && !PARTITION.matcher(root).matches() && g.is_lv(root)) {
      // is_lv runs lvm in the appliance (~0.5 s under TCG); a partition's name is never an LV's
      lv = root;
      partition = physicalVolume(g, root);
    }
    java.util.regex.Matcher named = PARTITION.matcher(partition == null ? "" : partition);
    if (!named.matches()) {
      events.warn("the root file system (" + root + ") is not on a plain partition, a btrfs subvolume of one or an LVM "
          + "volume group on one; it keeps its size");
      return new Growth(null, null);
    }
    // what part_to_dev and part_to_partnum would answer, without their two round trips
    String dev = named.group(1);
    int num = Integer.parseInt(named.group(2));
    // An LVM root's volume group holds its partition open, so the kernel would refuse to read the
    // table again: parted's per-partition update does it.
    Optional<Gpt> table = lv == null ? gpt(g, dev) : Optional.empty();
    if (table.isPresent()) {
      if (!table.get().last(num)) {
        events.warn(notLast(partition, dev));
        return new Growth(table.get(), null);
      }
      Optional<Gpt.Grown> grown = table.get().grown(num, sectors(g, dev, limit));
      if (grown.isEmpty()) {
        return new Growth(table.get(), null); // nothing worth growing: the disk is no larger than the table says
      }
      Gpt.Grown gr = grown.get();
      write(g, dev, 0, gr.head());
      write(g, dev, gr.tailAt() * Gpt.SECTOR, gr.tail());
      g.blockdev_rereadpt(dev);
      String grownFs = grew(g, root, fs, partition, lv, gr.before().start(),
          gr.before().start() + gr.before().size() - 1, gr.grown().start() + gr.grown().size() - 1, events);
      return new Growth(Gpt.parse(gr.head()).orElse(null), grownFs);
    }
    var parts = g.part_list(dev);
    long lastEnd = 0;
    long rootEnd = 0;
    long rootStart = 0;
    for (var p : parts) {
      lastEnd = Math.max(lastEnd, p.part_end);
      if (p.part_num == num) {
        rootEnd = p.part_end;
        rootStart = p.part_start;
      }
    }
    if (rootEnd != lastEnd) {
      events.warn(notLast(partition, dev));
      return new Growth(null, null);
    }
    boolean gpt = g.part_get_parttype(dev).equals("gpt");
    long sectors = sectors(g, dev, limit);
    // GPT keeps 33 sectors at the end for its backup table; align the end down to 1 MiB - 1.
    long end = ((sectors - (gpt ? 34 : 1) + 1) / 2048) * 2048 - 1;
    long have = (rootEnd + 1) / 512 - 1;
    if (end <= have + 2048) {
      // Nothing worth growing (a disk that starts from the step cache's layer was grown before):
      // the partition table is left alone, since sgdisk would write its headers again in its own
      // way and the disk would no longer be the bytes a cold build makes.
      return new Growth(null, null);
    }
    if (gpt) {
      g.part_expand_gpt(dev); // moves the backup GPT header to the new end of the disk
    }
    g.part_resize(dev, num, end);
    return new Growth(null, grew(g, root, fs, partition, lv, rootStart, rootEnd, end * 512 + 511, events));
  }

  /** The device's 512-byte sectors, or as many as {@code limit} bytes hold when it is smaller (0: none). */
  private static long sectors(GuestFS g, String dev, long limit) throws LibGuestFSException {
    long sectors = g.blockdev_getsize64(dev) / Gpt.SECTOR;
    return limit > 0 ? Math.min(sectors, limit / Gpt.SECTOR) : sectors;
  }

  /**
   * The root grown the rest of the way to the disk's end, offline as at a launch: a build whose
   * launch grew it only as far as {@link Options#growTo} (the disk a step cache layer is taken
   * from) does here what a build starting from that layer does at its launch, so both leave the
   * same partition table and file system. Nothing happens when the root already reaches the end.
   */
  public void growRoot() throws IOException {
    try {
      g.umount_all();
      String root = os.mountpoints().get("/");
      Growth growth = grow(g, root, fsTypes.get(root), 0, events);
      if (growth.table() != null) {
        table = growth.table();
      }
      mountAll(g, os.mountpoints(), mountOrder, options.readOnly(), events);
      if (growth.fs() != null) {
        growMounted(g, growth.fs(), events);
      }
    } catch (LibGuestFSException e) {
      throw fail("growing the root file system of", options.disk().toString(), e);
    }
  }

  private static String notLast(String partition, String dev) {
    return "the root partition " + partition + " is not the last one on " + dev + "; it keeps its size";
  }

  /**
   * What sits on the grown partition: an LVM root's volume group and volume, then an ext file system
   * (offline, after the e2fsck -f resize2fs asks for; the kernel's online resize would take ~0.9 s
   * less under TCG but keeps the reserved blocks where resize2fs scales them with the size, and the
   * rebuilt root takes its reserved percentage from here). Returns the file system's type.
   */
  private static String grew(GuestFS g, String root, String knownFs, String partition, String lv, long start,
      long oldEnd, long newEnd, EventSink events) throws LibGuestFSException {
    if (lv != null) {
      g.pvresize(partition);
      g.lvresize_free(lv, 100);
    }
    String fs = fsType(g, root, knownFs);
    if (fs.startsWith("ext")) {
      g.e2fsck(root, Map.of("correct", Boolean.TRUE, "forceall", Boolean.FALSE));
      g.resize2fs(root);
    }
    events.info("grew " + partition + (lv != null ? " and " + lv : "") + " from " + ((oldEnd - start + 1) >> 20)
        + " MiB to " + ((newEnd - start + 1) >> 20) + " MiB");
    return fs;
  }

  /**
   * The disk's GPT when it is one {@link Gpt} handles (read in one call; parted and sgdisk take
   * ~2 s under TCG only to start), else empty: MBR, hybrid or damaged tables go to those tools.
   */
  private static Optional<Gpt> gpt(GuestFS g, String dev) throws LibGuestFSException {
    Path f = null;
    try {
      f = java.nio.file.Files.createTempFile("assemble-gpt", ".bin");
      g.download_offset(dev, f.toString(), 0, Gpt.HEAD_SECTORS * Gpt.SECTOR);
      return Gpt.parse(java.nio.file.Files.readAllBytes(f));
    } catch (IOException | LibGuestFSException e) {
      return Optional.empty(); // a disk too small or unreadable there: the tools say what they make of it
    } finally {
      deleteQuietly(f);
    }
  }

  /** Writes bytes onto the device at an offset (upload_offset: the binding's pwrite takes a String). */
  private static void write(GuestFS g, String dev, long offset, byte[] bytes) throws LibGuestFSException {
    Path f = null;
    try {
      f = java.nio.file.Files.createTempFile("assemble-gpt", ".bin");
      java.nio.file.Files.write(f, bytes);
      g.upload_offset(f.toString(), dev, offset);
    } catch (IOException e) {
      throw new LibGuestFSException("writing the partition table of " + dev + ": " + e.getMessage());
    } finally {
      deleteQuietly(f);
    }
  }

  private static void deleteQuietly(Path f) {
    if (f != null) {
      try {
        java.nio.file.Files.deleteIfExists(f);
      } catch (IOException ignored) {
        // a temporary file
      }
    }
  }

  /** The one partition an LVM logical volume's volume group lives on, or null (several, or none). */
  private static String physicalVolume(GuestFS g, String lv) throws LibGuestFSException {
    String vg = lv.split("/").length == 4 ? lv.split("/")[2] : null; // /dev/VG/LV
    if (vg == null) {
      return null;
    }
    java.util.Set<String> uuids = new java.util.HashSet<>(java.util.Arrays.asList(g.vgpvuuids(vg)));
    List<String> pvs = new ArrayList<>();
    for (String pv : g.pvs()) {
      if (uuids.contains(g.pvuuid(pv))) { // pvuuid and vgpvuuids spell a UUID alike (pvs_full does not)
        pvs.add(g.canonical_device_name(pv));
      }
    }
    return pvs.size() == 1 ? pvs.get(0) : null;
  }

  /**
   * The partition table after {@link #grow} (null: not one Gpt reads) and, when the root's
   * partition grew, the type of the file system on it (null: it did not).
   */
  private record Growth(Gpt table, String fs) {}

  /** A partition's libguestfs name: its disk and number ({@code /dev/sda1}). */
  private static final java.util.regex.Pattern PARTITION = java.util.regex.Pattern.compile("(/dev/[sv]d[a-z])(\\d+)");

  /** The file system type blkid gave the quick inspection, else vfs_type (~0.17 s under TCG: it runs blkid). */
  private static String fsType(GuestFS g, String device, String known) throws LibGuestFSException {
    return known != null && !known.isEmpty() ? known : g.vfs_type(device);
  }

  /**
   * xfs and btrfs grow only while mounted: the root, mounted at /, to all its grown device (ext
   * grew before, see {@link #grew}).
   */
  private static void growMounted(GuestFS g, String fs, EventSink events) throws LibGuestFSException {
    if (fs.startsWith("ext")) {
      return;
    } else if (fs.equals("xfs")) {
      g.xfs_growfs("/");
    } else if (fs.equals("btrfs")) {
      g.btrfs_filesystem_resize("/", Map.of());
    } else {
      events.warn("the root file system is " + fs + "; only ext2/3/4, xfs and btrfs are grown");
    }
  }

  /**
   * How long a TCG launch may take: the launch timeout exists to catch KVM guests that hang at
   * boot; an emulated appliance only runs slowly, minutes when the host is busy (several builds at
   * once), so it gets this much before it counts as stuck.
   */
  static final Duration TCG_LAUNCH = Duration.ofMinutes(10);

  /**
   * launch() with a watchdog: past the timeout, this handle's qemu (named uniquely on its command
   * line, so builds running side by side in one process are left alone) is killed and launch fails.
   */
  private static void launch(GuestFS g, Duration timeout) throws LibGuestFSException, IOException {
    String name = "assemble-" + java.util.UUID.randomUUID();
    g.config("-name", name);
    LAUNCHES.incrementAndGet();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "appliance-watchdog");
      t.setDaemon(true);
      return t;
    });
    AtomicBoolean fired = new AtomicBoolean();
    ScheduledFuture<?> f = timer.schedule(() -> {
      fired.set(true);
      ProcessHandle.current().descendants()
          .filter(h -> h.info().command().map(c -> c.contains("qemu-system") || c.contains("qemu-kvm")).orElse(false))
          .filter(h -> h.info().arguments().map(a -> java.util.Arrays.asList(a).contains(name)).orElse(false))
          .forEach(ProcessHandle::destroyForcibly);
    }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    try {
      g.launch();
    } catch (LibGuestFSException e) {
      if (fired.get()) {
        throw new IOException("the appliance did not start within " + timeout.toSeconds()
            + " s and was killed; run assemble doctor --reprobe (KVM may hang on this host; --accel tcg)", e);
      }
      throw e;
    } finally {
      f.cancel(false);
      timer.shutdownNow();
    }
  }

  @Override
  public OsInfo os() {
    return os;
  }

  private IOException fail(String action, String path, LibGuestFSException e) {
    return new IOException(action + " " + path + " in the image: " + e.getMessage(), e);
  }

  @Override
  public byte[] read(String path) throws IOException {
    try {
      if (!g.is_file(path, Map.of("followsymlinks", Boolean.TRUE))) {
        return null;
      }
      byte[] small = readText(g, path);
      if (small != null) {
        return small;
      }
      // read_file's and pread's Java binding returns a String, which would corrupt binary files
      // (keyrings); download keeps the bytes.
      Path tmp = java.nio.file.Files.createTempFile("assemble-read", ".bin");
      try {
        g.download(path, tmp.toString());
        return java.nio.file.Files.readAllBytes(tmp);
      } finally {
        java.nio.file.Files.deleteIfExists(tmp);
      }
    } catch (LibGuestFSException e) {
      throw fail("reading", path, e);
    }
  }

  /** Up to this size a text file is read in the reply of one call (the protocol's messages hold 4 MiB). */
  private static final int PREAD_MAX = 1 << 20;

  /**
   * A small text file's bytes through pread, or null when it must be downloaded. Under TCG a
   * download costs ~200 ms of file-transfer round trips, a pread ~2 ms; a build and its verify
   * read a few hundred files. The binding turns pread's buffer into a String (a C string: a NUL
   * ends it), so only an answer that encodes back to the file's size is taken, and one with
   * non-ASCII characters only when its sha256 matches the file's (a checksum call, ~70 ms).
   */
  static byte[] readText(GuestFS g, String path) throws LibGuestFSException {
    long size = g.filesize(path);
    if (size == 0) {
      return new byte[0];
    }
    if (size > PREAD_MAX) {
      return null;
    }
    String s = g.pread(path, (int) size, 0);
    boolean ascii = s.chars().allMatch(c -> c > 0 && c < 0x80);
    byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    if (b.length != size) {
      return null;
    }
    if (!ascii && !g.checksum("sha256", path).equals(io.hypervisor.assembler.model.Digest.sha256(b).encoded())) {
      return null;
    }
    return b;
  }

  @Override
  public List<String> list(String dir) throws IOException {
    try {
      if (!g.is_dir(dir, Map.of("followsymlinks", Boolean.TRUE))) {
        return List.of();
      }
      String[] names = g.ls(dir);
      Arrays.sort(names);
      return List.of(names);
    } catch (LibGuestFSException e) {
      throw fail("listing", dir, e);
    }
  }

  @Override
  public long mtime(String path) throws IOException {
    try {
      return g.lstatns(path).st_mtime_sec;
    } catch (LibGuestFSException e) {
      throw fail("reading the time of", path, e);
    }
  }

  @Override
  public boolean exists(String path) throws IOException {
    try {
      return g.exists(path);
    } catch (LibGuestFSException e) {
      throw fail("checking", path, e);
    }
  }

  @Override
  public void write(String path, byte[] content, int mode) throws IOException {
    try {
      String parent = path.substring(0, Math.max(1, path.lastIndexOf('/')));
      g.mkdir_p(parent);
      g.write(path, content);
      g.chmod(mode, path);
    } catch (LibGuestFSException e) {
      throw fail("writing", path, e);
    }
  }

  @Override
  public void mkdirs(String path) throws IOException {
    try {
      g.mkdir_p(path);
    } catch (LibGuestFSException e) {
      throw fail("creating directory", path, e);
    }
  }

  @Override
  public void truncate(String path) throws IOException {
    try {
      g.truncate(path);
    } catch (LibGuestFSException e) {
      throw fail("emptying", path, e);
    }
  }

  @Override
  public void symlink(String target, String link) throws IOException {
    try {
      g.mkdir_p(link.substring(0, Math.max(1, link.lastIndexOf('/'))));
      g.ln_sf(target, link);
    } catch (LibGuestFSException e) {
      throw fail("linking", link, e);
    }
  }

  @Override
  public void remove(String path) throws IOException {
    try {
      g.rm_rf(path);
    } catch (LibGuestFSException e) {
      throw fail("removing", path, e);
    }
  }

  @Override
  public void environment(Map<String, String> env) {
    StringBuilder b = new StringBuilder("umask 022\n");
    new java.util.TreeMap<>(env).forEach((k, v) -> b.append("export ").append(k).append("='")
        .append(v.replace("'", "'\\''")).append("'\n"));
    prelude = b.toString();
  }

  @Override
  public String sh(String script) throws IOException {
    try {
      return g.sh(prelude + script);
    } catch (LibGuestFSException e) {
      throw new IOException("running a script in the image: " + e.getMessage(), e);
    }
  }

  @Override
  public String command(List<String> argv) throws IOException {
    try {
      return g.command(argv.toArray(String[]::new));
    } catch (LibGuestFSException e) {
      throw new IOException("running " + argv.get(0) + " in the image: " + e.getMessage(), e);
    }
  }

  private static void closeHandle(GuestFS g) {
    try {
      g.close();
    } catch (LibGuestFSException e) {
      // close() only fails on an already closed handle; nothing is left to release
    }
  }

  @Override
  public void run(String what, String script) throws IOException {
    String log = "/var/tmp/assemble-" + (++logs) + ".log";
    String wrapped = "exec >" + log + " 2>&1\nset -e\n" + prelude + script;
    try {
      g.sh(wrapped);
      String out = readLog(log);
      out.lines().forEach(l -> events.debug(what + ": " + l));
    } catch (LibGuestFSException e) {
      String out = readLog(log);
      List<String> lines = out.lines().toList();
      String tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 25), lines.size()));
      throw new IOException(what + " failed in the image: " + e.getMessage()
          + (tail.isBlank() ? "" : "\n--- last lines of its output ---\n" + tail), e);
    } finally {
      try {
        g.rm_f(log);
      } catch (LibGuestFSException ignored) {
        // the file system is gone if this fails; the build has failed already
      }
    }
  }

  private String readLog(String log) {
    try {
      byte[] b = read(log);
      return b == null ? "" : new String(b, java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(log unreadable: " + e.getMessage() + ")";
    }
  }

  /**
   * Streams a tar into the image through a FIFO: a writer thread produces the tar straight from
   * the content store into the pipe while tar_in reads it, so gigabytes are never copied to a
   * temporary file; the bytes written drive the progress events (tar_in sends none).
   */
  @Override
  public void tarIn(TarSource tar, String dir, String label) throws IOException {
    if (options.fifos() == null || options.workDir() == null) {
      throw new IOException("this session was opened without a FIFO maker; tar streams need one");
    }
    java.nio.file.Files.createDirectories(options.workDir());
    Path fifo = options.workDir().resolve("tar-in-" + System.nanoTime() + ".fifo");
    options.fifos().mkfifo(fifo);
    java.util.concurrent.atomic.AtomicReference<Throwable> writerError = new java.util.concurrent.atomic.AtomicReference<>();
    Thread writer = new Thread(() -> {
      try (java.io.OutputStream raw = java.nio.file.Files.newOutputStream(fifo);
          java.io.OutputStream out = new ProgressStream(new java.io.BufferedOutputStream(raw, 1 << 20), label,
              tar.size(), events)) {
        tar.writeTo(out);
      } catch (Throwable t) {
        writerError.set(t);
      }
    }, "tar-in-writer");
    writer.setDaemon(true);
    writer.start();
    try {
      g.mkdir_p(dir);
      g.tar_in(fifo.toString(), dir);
    } catch (LibGuestFSException e) {
      writer.interrupt();
      // Unblock a writer stuck on a pipe nobody reads any more.
      try (var drain = new java.io.FileInputStream(fifo.toFile())) {
        drain.transferTo(java.io.OutputStream.nullOutputStream());
      } catch (IOException ignored) {
        // the writer may already be gone
      }
      Throwable w = writerError.get();
      throw new IOException("unpacking " + label + " into " + dir + ": " + e.getMessage()
          + (w == null ? "" : " (writing the stream: " + w.getMessage() + ")"), e);
    } finally {
      try {
        writer.join(60_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      java.nio.file.Files.deleteIfExists(fifo);
    }
    Throwable w = writerError.get();
    if (w != null) {
      throw new IOException("writing " + label + " for the image: " + w.getMessage(), w);
    }
  }

  /**
   * tar_out of "/" through a FIFO into {@code sink} on a reader thread, with the other file
   * systems unmounted meanwhile (remounted after, also on failure), so the stream is the root
   * file system alone.
   */
  @Override
  public void tarOutRoot(List<String> patterns, TarSink sink) throws IOException {
    Map<String, Object> opts = new java.util.HashMap<>(Map.of("numericowner", Boolean.TRUE, "xattrs", Boolean.TRUE,
        "selinux", Boolean.TRUE, "acls", Boolean.TRUE));
    if (!patterns.isEmpty()) {
      opts.put("excludes", patterns.toArray(String[]::new));
    }
    rootAlone("copying the root file system out of the image", fifo -> g.tar_out("/", fifo, opts), sink);
  }

  @Override
  public void tarOut(String dir, TarSink sink) throws IOException {
    streamed("copying " + dir + " out of the image", fifo -> g.tar_out(dir, fifo, Map.of("numericowner", Boolean.TRUE)),
        sink);
  }

  @Override
  public List<String> listRoot() throws IOException {
    List<String> out = new ArrayList<>();
    rootAlone("listing the root file system", fifo -> g.find0("/", fifo), in -> {
      java.io.ByteArrayOutputStream name = new java.io.ByteArrayOutputStream();
      for (int b = in.read(); ; b = in.read()) {
        if (b > 0) {
          name.write(b);
          continue;
        }
        String n = name.toString(java.nio.charset.StandardCharsets.UTF_8).replaceFirst("^\\.?/", "");
        if (!n.isEmpty() && !n.equals(".")) {
          out.add(n);
        }
        name.reset();
        if (b < 0) {
          break;
        }
      }
    });
    return out;
  }

  /** A libguestfs call that writes to a local file (here a FIFO the sink reads as it is written). */
  @FunctionalInterface
  private interface ToFile {
    void call(String file) throws LibGuestFSException;
  }

  /**
   * Runs {@code call} with every file system but the root's unmounted (so the root is seen alone,
   * its mount points as it holds them), streaming its output through a FIFO into {@code sink},
   * and mounts them again.
   */
  private void rootAlone(String what, ToFile call, TarSink sink) throws IOException {
    if (options.fifos() == null || options.workDir() == null) {
      throw new IOException("this session was opened without a FIFO maker; tar streams need one");
    }
    List<String> others = new ArrayList<>(mountOrder);
    others.removeAll(os.rootMounts()); // a btrfs root's other subvolumes stay: they are its content
    java.util.Collections.reverse(others);
    List<String> unmounted = new ArrayList<>();
    try {
      for (String mp : others) {
        try {
          g.umount(mp);
          unmounted.add(0, mp);
        } catch (LibGuestFSException e) {
          events.debug("not mounted, so not unmounted: " + mp + ": " + e.getMessage());
        }
      }
      streamed(what, call, sink);
    } finally {
      for (String mp : unmounted) {
        try {
          if (options.readOnly()) {
            g.mount_ro(os.mountpoints().get(mp), mp);
          } else {
            g.mount(os.mountpoints().get(mp), mp);
          }
        } catch (LibGuestFSException e) {
          events.warn("could not mount " + os.mountpoints().get(mp) + " on " + mp + " again: " + e.getMessage());
        }
      }
    }
  }

  /** Runs {@code call}, streaming what it writes through a FIFO into {@code sink}. */
  private void streamed(String what, ToFile call, TarSink sink) throws IOException {
    if (options.fifos() == null || options.workDir() == null) {
      throw new IOException("this session was opened without a FIFO maker; tar streams need one");
    }
    java.nio.file.Files.createDirectories(options.workDir());
    Path fifo = options.workDir().resolve("tar-out-" + System.nanoTime() + ".fifo");
    try {
      options.fifos().mkfifo(fifo);
      java.util.concurrent.atomic.AtomicReference<Throwable> readerError = new java.util.concurrent.atomic.AtomicReference<>();
      java.util.concurrent.atomic.AtomicBoolean opened = new java.util.concurrent.atomic.AtomicBoolean();
      Thread reader = new Thread(() -> {
        // FileInputStream, not Files.newInputStream: the latter's available() asks a FileChannel
        // for its position, which a FIFO has not (ESPIPE, "Illegal seek"), and BufferedInputStream calls it.
        try (java.io.InputStream raw = new java.io.FileInputStream(fifo.toFile());
            java.io.InputStream in = new java.io.BufferedInputStream(raw, 1 << 20)) {
          opened.set(true);
          try {
            sink.readFrom(in);
          } catch (Throwable t) {
            readerError.set(t);
          }
          in.transferTo(java.io.OutputStream.nullOutputStream()); // never leave tar_out blocked on a full pipe
        } catch (Throwable t) {
          readerError.compareAndSet(null, t);
        }
      }, "tar-out-reader");
      reader.setDaemon(true);
      reader.start();
      try {
        call.call(fifo.toString());
      } catch (LibGuestFSException e) {
        if (!opened.get()) { // unblock a reader still waiting for a writer
          try (var unblock = java.nio.file.Files.newOutputStream(fifo)) {
            unblock.flush();
          } catch (IOException ignored) {
            // the reader is gone already
          }
        }
        throw new IOException(what + ": " + e.getMessage(), e);
      } finally {
        try {
          reader.join(600_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      Throwable r = readerError.get();
      if (r instanceof IOException io) {
        throw io;
      }
      if (r != null) {
        throw new IOException(what + ": " + r, r);
      }
    } finally {
      java.nio.file.Files.deleteIfExists(fifo);
    }
  }

  /** Bytes of the file system holding {@code path} (its blocks times their size, as df counts them). */
  public long fileSystemBytes(String path) throws IOException {
    var st = statvfs(path);
    return st.blocks * st.frsize;
  }

  /** Bytes free to unprivileged writers on the file system holding {@code path} (as df's Avail). */
  public long fileSystemFree(String path) throws IOException {
    var st = statvfs(path);
    return st.bavail * st.frsize;
  }

  private com.redhat.et.libguestfs.StatVFS statvfs(String path) throws IOException {
    try {
      return g.statvfs(path);
    } catch (LibGuestFSException e) {
      throw fail("measuring the file system of", path, e);
    }
  }

  /**
   * The first disk's GPT as this session has it (read now when not yet), or empty: a table
   * {@link Gpt} does not handle (MBR, hybrid), which only the appliance's tools grow.
   */
  public Optional<Gpt> gpt() throws IOException {
    if (table == null) {
      try {
        String[] devices = g.list_devices();
        table = devices.length == 0 ? null : gpt(g, devices[0]).orElse(null);
      } catch (LibGuestFSException e) {
        throw new IOException("reading the image's partition table: " + e.getMessage(), e);
      }
    }
    return Optional.ofNullable(table);
  }

  @Override
  public List<Partition> partitions() throws IOException {
    try {
      String[] devices = g.list_devices();
      if (devices.length == 0) {
        return List.of();
      }
      String disk = devices[0];
      List<Partition> out = new ArrayList<>();
      if (table == null) {
        table = gpt(g, disk).orElse(null);
      }
      if (table != null) {
        // one read of the table (or none after the grow) and the quick identification's types:
        // parted and blkid per partition cost ~1 s under TCG
        for (Gpt.Entry e : table.entries()) {
          String dev = disk + e.number();
          String fs = fsTypes.containsKey(dev) ? fsTypes.get(dev) : vfsType(dev);
          out.add(new Partition(dev, e.number(), e.start(), e.size(), fs));
        }
        out.sort(Comparator.comparingLong(Partition::start)); // as parted lists them
        return out;
      }
      for (com.redhat.et.libguestfs.Partition p : g.part_list(disk)) {
        String dev = disk + p.part_num;
        out.add(new Partition(dev, p.part_num, p.part_start, p.part_size, vfsType(dev)));
      }
      return out;
    } catch (LibGuestFSException e) {
      throw new IOException("listing the image's partitions: " + e.getMessage(), e);
    }
  }

  /** The device's file system type, "" when blkid finds none. */
  private String vfsType(String dev) {
    try {
      return g.vfs_type(dev);
    } catch (LibGuestFSException e) {
      return "";
    }
  }

  @Override
  public Map<String, String> superblock(String device) throws IOException {
    try {
      return g.tune2fs_l(device);
    } catch (LibGuestFSException e) {
      throw fail("reading the superblock of", device, e);
    }
  }

  @Override
  public String readlink(String path) throws IOException {
    try {
      return g.is_symlink(path) ? g.readlink(path) : null;
    } catch (LibGuestFSException e) {
      throw fail("reading the link", path, e);
    }
  }

  @Override
  public String sha256(String path) throws IOException {
    try {
      return g.checksum("sha256", path);
    } catch (LibGuestFSException e) {
      throw fail("hashing", path, e);
    }
  }

  @Override
  public Map<String, String> sha256Under(String dir) throws IOException {
    // one daemon call (find | sha256sum in the appliance) instead of a checksum call per file,
    // each ~70 ms under TCG
    Path tmp = java.nio.file.Files.createTempFile("assemble-sums", ".txt");
    try {
      if (!g.is_dir(dir, Map.of("followsymlinks", Boolean.TRUE))) {
        return Map.of();
      }
      g.checksums_out("sha256", dir, tmp.toString());
      Map<String, String> sums = new java.util.TreeMap<>();
      for (String line : java.nio.file.Files.readAllLines(tmp)) {
        int sp = line.indexOf("  ");
        if (sp > 0) {
          sums.put(line.substring(sp + 2).replaceFirst("^\\./", ""), line.substring(0, sp));
        }
      }
      return sums;
    } catch (LibGuestFSException e) {
      throw fail("hashing the files under", dir, e);
    } finally {
      java.nio.file.Files.deleteIfExists(tmp);
    }
  }

  @Override
  public long size(String path) throws IOException {
    try {
      return g.exists(path) ? g.filesize(path) : -1;
    } catch (LibGuestFSException e) {
      throw fail("sizing", path, e);
    }
  }

  @Override
  public List<String> glob(String pattern) throws IOException {
    try {
      String[] found = g.glob_expand(pattern);
      Arrays.sort(found);
      return List.of(found);
    } catch (LibGuestFSException e) {
      throw fail("listing", pattern, e);
    }
  }

  @Override
  public void trim() throws IOException {
    for (String mp : mountOrder) {
      try {
        g.fstrim(mp);
      } catch (LibGuestFSException e) {
        events.debug("fstrim " + mp + ": " + e.getMessage());
      }
    }
  }

  /** The appliance device of the i-th attachment (/dev/sdb for the first). */
  public static String attachmentDevice(int i) {
    return "/dev/sd" + (char) ('b' + i);
  }

  /** The underlying handle, for operations this interface does not cover (the assembly's own steps). */
  GuestFS handle() {
    return g;
  }

  /** Trims and unmounts every file system and shuts the appliance down, surfacing write-back errors. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      g.umount_all();
      g.shutdown();
    } catch (LibGuestFSException e) {
      throw new IOException("closing the image: " + e.getMessage(), e);
    } finally {
      closeHandle(g);
      events.debug("appliance closed (" + mountOrder.size() + " file systems)");
    }
  }
}
