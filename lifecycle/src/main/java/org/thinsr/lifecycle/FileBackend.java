package org.thinsr.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.HostExtents;
import org.thinsr.allocmap.QemuImgMapParser;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.qmpclient.QmpClient;
import org.thinsr.qmpclient.QmpException;
import org.thinsr.vhdstream.FileAllocation;

/**
 * The embedded default backend: an SR is a directory, a thin volume a qcow2 file made by {@code
 * qemu-img}, a preallocated volume a zero-written raw file. No root, no LVM.
 *
 * <p>Files in the SR directory:
 *
 * <pre>
 *   NAME.qcow2 / NAME.raw       a visible volume; mode 0444 marks a snapshot (read-only)
 *   .base-UUID.qcow2 / .raw     a hidden, read-only shared base of snapshots and clones
 *   .tmp-*                      half-made files, removed by introduceSr
 *   .thinsr-meta                the 4 MiB metadata area
 *   .thinsr-lock                the SR lock file
 * </pre>
 *
 * <p>Snapshot and clone of {@code S}: hard-link {@code S} to a new hidden base {@code B}, create
 * qcow2 overlays on {@code B} (relative backing file name, so the directory can move) for the copy
 * and for {@code S}, then rename the copy's overlay into place and the new {@code S} over the old
 * one. Each rename is atomic, so a crash leaves {@code S} either as it was or as an overlay on
 * {@code B} with the same content. A hidden base is deleted when no other file names it as its
 * backing file; one that a single file names is merged into that file after a destroy or detach
 * ({@link #coalesceBases}), so snapshot-and-destroy cycles do not deepen chains. An attached volume is snapshotted live: the daemon's export is switched onto the
 * new overlay with QMP {@code blockdev-snapshot} before the renames, and its NBD clients stay
 * connected (see {@link #switchLive}).
 *
 * <p>Attach starts one {@code qemu-storage-daemon} per volume exporting it over NBD on a unix
 * socket in the run directory ({@code $XDG_RUNTIME_DIR/thinsr} or {@code /tmp/thinsr-$USER});
 * the daemon's pid file and the attachment record there let any process on the host find and stop
 * it, and its QMP monitor socket ({@link #monitor}) lets one drive it (live migration). (Until the {@code qmp-client} module's managed daemon lands, this class starts the daemon
 * itself with {@code --daemonize}.) Maps come from {@code qemu-img map --output=json} through allocmap's {@link QemuImgMapParser}.
 */
public final class FileBackend implements StorageBackend {
    static final String KIND = "file";
    private static final String NODE_NAME = "disk";
    private static final String EXPORT_ID = "export0";
    static final String METADATA_FILE = ".thinsr-meta";
    static final String LOCK_FILE = ".thinsr-lock";
    static final long METADATA_SIZE = 4L << 20;
    static final long CLUSTER_SIZE = 64L << 10;
    private static final String QCOW2 = ".qcow2";
    private static final String RAW = ".raw";
    private static final String BASE_PREFIX = ".base-";
    private static final String TEMP_PREFIX = ".tmp-";
    private static final int ZERO_CHUNK = 8 << 20;
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration COMMIT_TIMEOUT = Duration.ofHours(2);
    private static final Set<PosixFilePermission> READ_ONLY = PosixFilePermissions.fromString("r--r--r--");
    private static final int MAX_CHAIN = 1000;
    private static final String MONITOR_SUFFIX = ".qmp";

    private final CommandRunner runner;
    private final Path runDirectory;

    /** A backend running real tools, with the default run directory. */
    public FileBackend() {
        this(CommandRunner.PROCESSES, defaultRunDirectory());
    }

    /**
     * @param runner runs qemu-img and qemu-storage-daemon
     * @param runDirectory where sockets, pid files and attachment records go; created on demand;
     *     must not contain a comma (qemu option syntax) and must leave room for a 108-byte socket
     *     path
     */
    public FileBackend(CommandRunner runner, Path runDirectory) {
        this.runner = runner;
        this.runDirectory = runDirectory.toAbsolutePath().normalize();
        if (this.runDirectory.toString().indexOf(',') >= 0) {
            throw new IllegalArgumentException("run directory contains a comma: " + this.runDirectory);
        }
    }

    static Path defaultRunDirectory() {
        String runtime = System.getenv("XDG_RUNTIME_DIR");
        if (runtime != null && !runtime.isBlank() && Path.of(runtime).isAbsolute()) {
            return Path.of(runtime, "thinsr");
        }
        return Path.of("/tmp", "thinsr-" + System.getProperty("user.name", "user"));
    }

    @Override
    public String kind() {
        return KIND;
    }

    // ---- SR storage ----

    private static Path directoryOf(SrConfig config) {
        String path = config.get("path")
                .orElseThrow(() -> new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT, "file SR configuration needs 'path' (the SR directory)", "path"));
        if (path.isBlank() || path.indexOf('\0') >= 0) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "file SR path is blank or holds a NUL", "path");
        }
        return Path.of(path).toAbsolutePath().normalize();
    }

    private static SrInfo info(Path directory) {
        return new SrInfo(KIND, directory.toString(), Map.of("path", directory.toString()));
    }

    private static Path directory(SrInfo sr) {
        Path directory = Path.of(sr.location());
        if (!Files.isRegularFile(directory.resolve(METADATA_FILE))) {
            throw new ThinsrException(
                    ErrorCode.SR_NOT_FOUND,
                    "no thinsr file SR at " + directory + " (no " + METADATA_FILE + ")",
                    sr.location());
        }
        return directory;
    }

    @Override
    public SrInfo createSr(SrConfig config) {
        Path directory = directoryOf(config);
        if (Files.exists(directory.resolve(METADATA_FILE))) {
            throw new ThinsrException(
                    ErrorCode.SR_EXISTS, "a thinsr SR already exists at " + directory, directory.toString());
        }
        try {
            Files.createDirectories(directory);
            Path temp = directory.resolve(TEMP_PREFIX + "meta-" + UUID.randomUUID());
            FileChannelMetadataArea.create(temp, METADATA_SIZE);
            Files.move(temp, directory.resolve(METADATA_FILE), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw ioError("cannot create the file SR at " + directory, e);
        }
        return info(directory);
    }

    @Override
    public SrInfo introduceSr(SrConfig config) {
        Path directory = directoryOf(config);
        SrInfo sr = info(directory);
        directory(sr);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            for (Path entry : entries) {
                String file = entry.getFileName().toString();
                if (file.startsWith(TEMP_PREFIX)) {
                    Files.deleteIfExists(entry);
                } else if (file.endsWith(RAW) && !file.startsWith(".")) {
                    Path qcow2 = directory.resolve(stem(file) + QCOW2);
                    if (Files.exists(qcow2)) {
                        // a snapshot of a raw volume crashed between its two renames: the qcow2 overlay
                        // on the hidden base (a hard link of this raw file) is the volume now
                        Files.deleteIfExists(entry);
                    }
                }
            }
        } catch (IOException e) {
            throw ioError("cannot tidy the file SR at " + directory, e);
        }
        return sr;
    }

    @Override
    public void forgetSr(SrInfo sr) {
        Path directory = Path.of(sr.location());
        if (!Files.isDirectory(directory)) {
            return;
        }
        for (String name : visibleNames(directory)) {
            stop(sr, name);
        }
    }

    @Override
    public void destroySr(SrInfo sr) {
        Path directory = Path.of(sr.location());
        if (!Files.isRegularFile(directory.resolve(METADATA_FILE))) {
            return;
        }
        forgetSr(sr);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            for (Path entry : entries) {
                String file = entry.getFileName().toString();
                boolean ours = file.endsWith(QCOW2)
                        || file.endsWith(RAW)
                        || file.startsWith(TEMP_PREFIX)
                        || file.equals(LOCK_FILE);
                if (ours && Files.isRegularFile(entry)) {
                    Files.delete(entry);
                }
            }
            Files.deleteIfExists(directory.resolve(METADATA_FILE));
            try (DirectoryStream<Path> rest = Files.newDirectoryStream(directory)) {
                if (!rest.iterator().hasNext()) {
                    Files.delete(directory);
                }
            }
        } catch (IOException e) {
            throw ioError("cannot destroy the file SR at " + directory, e);
        }
    }

    @Override
    public SrStat statSr(SrInfo sr) {
        Path directory = directory(sr);
        try {
            FileStore store = Files.getFileStore(directory);
            long total = store.getTotalSpace();
            long free = Math.min(store.getUsableSpace(), total);
            long physical = 0;
            long virtual = 0;
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
                for (Path entry : entries) {
                    String file = entry.getFileName().toString();
                    if (file.endsWith(QCOW2) || file.endsWith(RAW)) {
                        physical += allocatedBytes(entry, formatOf(entry));
                        if (!file.startsWith(".")) {
                            virtual += virtualSize(entry);
                        }
                    }
                }
            }
            return new SrStat(total, free, physical, virtual);
        } catch (IOException e) {
            throw ioError("cannot stat the file SR at " + directory, e);
        }
    }

    @Override
    public long blockSizeBytes(SrInfo sr) {
        return CLUSTER_SIZE;
    }

    @Override
    public MetadataArea openMetadata(SrInfo sr) throws IOException {
        return FileChannelMetadataArea.open(directory(sr).resolve(METADATA_FILE), METADATA_SIZE);
    }

    @Override
    public Path lockFile(SrInfo sr) {
        return Path.of(sr.location()).resolve(LOCK_FILE);
    }

    // ---- volumes ----

    private static String stem(String file) {
        return file.substring(0, file.lastIndexOf('.'));
    }

    private static String formatOf(Path file) {
        return file.getFileName().toString().endsWith(RAW) ? "raw" : "qcow2";
    }

    private static List<String> visibleNames(Path directory) {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            for (Path entry : entries) {
                String file = entry.getFileName().toString();
                if ((file.endsWith(QCOW2) || file.endsWith(RAW))
                        && VolumeNames.isValid(stem(file))
                        && Files.isRegularFile(entry)) {
                    String name = stem(file);
                    if (!names.contains(name)) {
                        names.add(name);
                    }
                }
            }
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw ioError("cannot list " + directory, e);
        }
        names.sort(null);
        return names;
    }

    private static Optional<Path> findVolume(Path directory, String name) {
        VolumeNames.requireValid(name);
        Path qcow2 = directory.resolve(name + QCOW2);
        if (Files.isRegularFile(qcow2)) {
            return Optional.of(qcow2);
        }
        Path raw = directory.resolve(name + RAW);
        return Files.isRegularFile(raw) ? Optional.of(raw) : Optional.empty();
    }

    private static Path volume(Path directory, String name) {
        return findVolume(directory, name)
                .orElseThrow(() -> new ThinsrException(
                        ErrorCode.VDI_NOT_FOUND, "no volume '" + name + "' in file SR " + directory, name));
    }

    private static void requireFree(Path directory, String name) {
        if (findVolume(directory, name).isPresent()) {
            throw new ThinsrException(
                    ErrorCode.VDI_EXISTS, "volume '" + name + "' already exists in file SR " + directory, name);
        }
    }

    private static long roundUp(long size) {
        if (size <= 0) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "volume size must be positive: " + size, Long.toString(size));
        }
        if (size > Long.MAX_VALUE - 511) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "volume size is too large: " + size, Long.toString(size));
        }
        return (size + 511) & ~511L;
    }

    @Override
    public VolumeInfo createVolume(
            SrInfo sr,
            String volumeName,
            long virtualSizeBytes,
            Provisioning provisioning,
            Optional<Origin> origin,
            Progress progress) {
        VolumeNames.requireValid(volumeName);
        long size = roundUp(virtualSizeBytes);
        Path directory = directory(sr);
        requireFree(directory, volumeName);
        switch (provisioning) {
            case THIN -> createThin(directory, volumeName, size, origin);
            case PREALLOCATED -> {
                if (origin.isPresent()) {
                    throw new ThinsrException(
                            ErrorCode.INVALID_ARGUMENT, "a preallocated volume cannot have an origin", volumeName);
                }
                createPreallocated(directory, volumeName, size, progress);
            }
        }
        return statVolume(sr, volumeName);
    }

    private void createThin(Path directory, String name, long size, Optional<Origin> origin) {
        Path temp = directory.resolve(TEMP_PREFIX + UUID.randomUUID() + QCOW2);
        List<String> argv = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2"));
        if (origin.isPresent()) {
            argv.addAll(List.of(
                    "-u", "-b", origin.get().location(), "-F", origin.get().format()));
        }
        argv.addAll(List.of(temp.toString(), Long.toString(size)));
        try {
            runner.check(argv, TOOL_TIMEOUT);
            Files.move(temp, directory.resolve(name + QCOW2), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(temp);
            if (e instanceof IOException io) {
                throw ioError("cannot create volume " + name, io);
            }
            throw (RuntimeException) e;
        }
    }

    private static void createPreallocated(Path directory, String name, long size, Progress progress) {
        Path temp = directory.resolve(TEMP_PREFIX + UUID.randomUUID() + RAW);
        boolean done = false;
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer zeros = ByteBuffer.allocateDirect(ZERO_CHUNK);
            long written = 0;
            progress.update(0, size);
            while (written < size) {
                if (progress.cancelled()) {
                    throw new ThinsrException(
                            ErrorCode.CANCELLED,
                            "creation of preallocated volume " + name + " cancelled after " + written + " of " + size
                                    + " bytes",
                            name);
                }
                int length = (int) Math.min(ZERO_CHUNK, size - written);
                zeros.clear().limit(length);
                while (zeros.hasRemaining()) {
                    written += channel.write(zeros, written);
                }
                progress.update(written, size);
            }
            channel.force(true);
            done = true;
        } catch (IOException e) {
            throw ioError("cannot write preallocated volume " + name, e);
        } finally {
            if (!done) {
                deleteQuietly(temp);
            }
        }
        try {
            Files.move(temp, directory.resolve(name + RAW), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(temp);
            throw ioError("cannot create volume " + name, e);
        }
    }

    @Override
    public boolean destroyVolume(SrInfo sr, String volumeName) {
        Path directory = directory(sr);
        Optional<Path> file = findVolume(directory, volumeName);
        if (file.isEmpty()) {
            return false;
        }
        stop(sr, volumeName);
        try {
            Files.delete(file.get());
        } catch (IOException e) {
            throw ioError("cannot delete volume " + volumeName, e);
        }
        collectBases(directory);
        coalesceBases(sr, directory);
        return true;
    }

    /** Deletes hidden bases that no file names as its backing file, until none is left. */
    private void collectBases(Path directory) {
        boolean deleted = true;
        while (deleted) {
            deleted = false;
            Set<String> referenced = new HashSet<>();
            List<Path> bases = new ArrayList<>();
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
                for (Path entry : entries) {
                    String file = entry.getFileName().toString();
                    if (file.startsWith(BASE_PREFIX)) {
                        bases.add(entry);
                    }
                    if (file.endsWith(QCOW2) && !file.startsWith(TEMP_PREFIX)) {
                        String backing = backingFile(entry);
                        referenced.add(backing);
                    }
                }
                for (Path base : bases) {
                    if (!referenced.contains(base.getFileName().toString())) {
                        Files.deleteIfExists(base);
                        deleted = true;
                    }
                }
            } catch (IOException e) {
                throw ioError("cannot collect unused bases in " + directory, e);
            }
        }
    }

    /**
     * Shortens chains: while a hidden base {@code B} is the backing file of exactly one file {@code C}
     * (a visible volume or another hidden base) and no running daemon reads {@code B} (it is in the
     * chain of no attached volume), merges {@code C} into {@code B} and puts {@code B} in {@code C}'s
     * place ({@link #coalesce}). So a snapshot and the destroy of the snapshot leave the source's
     * chain as it was before. A base in an attached volume's chain is left for the volume's detach or
     * the next destroy (a live {@code block-commit} through QMP is not done). A failed merge leaves
     * both files as they were and is not tried again in this call; it does not fail the caller.
     */
    private void coalesceBases(SrInfo sr, Path directory) {
        Set<String> failed = new HashSet<>();
        while (true) {
            Map<String, String> backing = backingFiles(directory);
            Optional<Map.Entry<String, String>> next = nextCoalesce(sr, directory, backing, failed);
            if (next.isEmpty()) {
                return;
            }
            String base = next.get().getKey();
            if (!coalesce(directory, base, next.get().getValue())) {
                failed.add(base);
            }
        }
    }

    /** The backing file name of every qcow2 file in {@code directory}, temporary ones too, by file name. */
    private Map<String, String> backingFiles(Path directory) {
        Map<String, String> backing = new java.util.TreeMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            for (Path entry : entries) {
                String file = entry.getFileName().toString();
                if (file.endsWith(QCOW2) && Files.isRegularFile(entry)) {
                    backing.put(file, backingFile(entry));
                }
            }
        } catch (IOException e) {
            throw ioError("cannot list " + directory, e);
        }
        return backing;
    }

    /** The next hidden base to merge its only child into, as (base, child) file names. */
    private Optional<Map.Entry<String, String>> nextCoalesce(
            SrInfo sr, Path directory, Map<String, String> backing, Set<String> failed) {
        Set<String> busy = new HashSet<>();
        for (String name : visibleNames(directory)) {
            if (daemon(sr, name).isPresent()) {
                Optional<Path> file = findVolume(directory, name);
                String layer = file.map(path -> path.getFileName().toString()).orElse("");
                while (!layer.isEmpty() && busy.add(layer)) {
                    layer = backing.getOrDefault(layer, "");
                }
            }
        }
        Map<String, List<String>> children = new java.util.TreeMap<>();
        backing.forEach((child, base) -> {
            if (base.startsWith(BASE_PREFIX) && base.indexOf('/') < 0) {
                children.computeIfAbsent(base, b -> new ArrayList<>()).add(child);
            }
        });
        for (Map.Entry<String, List<String>> entry : children.entrySet()) {
            String base = entry.getKey();
            if (entry.getValue().size() != 1 || busy.contains(base) || failed.contains(base)) {
                continue;
            }
            String child = entry.getValue().getFirst();
            boolean visible = !child.startsWith(".") && VolumeNames.isValid(stem(child));
            boolean hidden = child.startsWith(BASE_PREFIX);
            if (!Files.isRegularFile(directory.resolve(base)) || !(visible || hidden)) {
                continue;
            }
            if (base.endsWith(RAW)
                    && (hidden
                            || Files.exists(
                                    directory.resolve(stem(child) + RAW), java.nio.file.LinkOption.NOFOLLOW_LINKS))) {
                // a raw base in a child's place changes the name to NAME.raw: only a visible volume can
                continue;
            }
            return Optional.of(Map.entry(base, child));
        }
        return Optional.empty();
    }

    /**
     * Merges qcow2 {@code childFile} into its backing file {@code baseFile}, the hidden base of which
     * it is the only child: {@code qemu-img commit -d} writes the child's clusters into the base
     * (which then reads exactly as the child; the child is unchanged), then the base takes the child's
     * mode and is renamed over the child. A raw base becomes the volume {@code NAME.raw}: linked to
     * that name, then the child and the base name are deleted ({@link #introduceSr} deletes {@code
     * NAME.raw} while {@code NAME.qcow2} exists). A crash before the rename leaves the child over a
     * base with the same content, merged again later. Files made writable for the commit (only when
     * they are not, e.g. not as root) are read-only again before the rename; a crash in between leaves
     * them writable.
     *
     * @return whether it was merged; when not, both files read as before
     */
    private boolean coalesce(Path directory, String baseFile, String childFile) {
        Path base = directory.resolve(baseFile);
        Path child = directory.resolve(childFile);
        Set<PosixFilePermission> baseMode;
        Set<PosixFilePermission> childMode;
        try {
            baseMode = Files.getPosixFilePermissions(base);
            childMode = Files.getPosixFilePermissions(child);
        } catch (IOException e) {
            return false;
        }
        boolean baseOpened = !Files.isWritable(base);
        boolean childOpened = !Files.isWritable(child);
        try {
            if (baseOpened) {
                Files.setPosixFilePermissions(base, withOwnerWrite(baseMode));
            }
            if (childOpened) {
                Files.setPosixFilePermissions(child, withOwnerWrite(childMode));
            }
            if (!nothingToCommit(base, child)) {
                runner.check(
                        List.of("qemu-img", "commit", "-q", "-d", "-f", "qcow2", child.toString()), COMMIT_TIMEOUT);
            }
            if (childOpened) {
                Files.setPosixFilePermissions(child, childMode);
            }
            Files.setPosixFilePermissions(base, childMode);
        } catch (IOException | RuntimeException e) {
            // the child's clusters only were written to the base: the child reads as before
            try {
                Files.setPosixFilePermissions(child, childMode);
                Files.setPosixFilePermissions(base, baseMode);
            } catch (IOException ignored) {
                // the modes are wrong but the content is as it was
            }
            return false;
        }
        CrashPoints.reach("file.coalesce.after-commit");
        try {
            if (baseFile.endsWith(RAW)) {
                Path volume = directory.resolve(stem(childFile) + RAW);
                Files.createLink(volume, base);
                Files.delete(child);
                Files.delete(base);
            } else {
                Files.move(base, child, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            return false;
        }
        return true;
    }

    /**
     * Whether merging {@code child} into {@code base} would write nothing: the child holds no cluster
     * ({@link Qcow2Header#unallocated}; a snapshot's overlay nobody wrote, the common case after a
     * copy) and has the base's virtual size, so the base already reads exactly as the child.
     */
    private static boolean nothingToCommit(Path base, Path child) {
        try {
            long baseSize = base.getFileName().toString().endsWith(RAW)
                    ? Files.size(base)
                    : Qcow2Header.read(base).virtualSize();
            return Qcow2Header.read(child).virtualSize() == baseSize && Qcow2Header.unallocated(child);
        } catch (IOException | RuntimeException e) {
            return false; // qemu-img commit decides
        }
    }

    private static Set<PosixFilePermission> withOwnerWrite(Set<PosixFilePermission> mode) {
        Set<PosixFilePermission> writable = java.util.EnumSet.noneOf(PosixFilePermission.class);
        writable.addAll(mode);
        writable.add(PosixFilePermission.OWNER_WRITE);
        return writable;
    }

    @Override
    public VolumeInfo snapshot(SrInfo sr, String volumeName, String snapshotName) {
        return copy(sr, volumeName, snapshotName, true);
    }

    @Override
    public VolumeInfo clone(SrInfo sr, String volumeName, String cloneName) {
        return copy(sr, volumeName, cloneName, false);
    }

    /**
     * Snapshot or clone of {@code volumeName}. A volume attached read-write whose daemon has a QMP
     * monitor is switched live ({@link #switchLive}): its NBD clients stay connected. A volume
     * attached read-only keeps its daemon as it is: the daemon reads the old inode, now the hidden
     * base, whose content never changes and equals the volume's. A read-write attachment without a
     * monitor (a daemon of an older thinsr) is detached and attached again.
     */
    private VolumeInfo copy(SrInfo sr, String volumeName, String copyName, boolean readOnlyCopy) {
        Path directory = directory(sr);
        Path source = volume(directory, volumeName);
        VolumeNames.requireValid(copyName);
        requireFree(directory, copyName);
        Optional<Attachment> attached = attachment(sr, volumeName);
        Optional<QemuMonitor> live =
                attached.isPresent() && !attached.get().readOnly() ? monitor(sr, volumeName) : Optional.empty();
        boolean reattach = attached.isPresent() && !attached.get().readOnly() && live.isEmpty();
        if (reattach) {
            stop(sr, volumeName);
        }
        String format = formatOf(source);
        boolean sourceReadOnly = isReadOnly(source);
        long size = virtualSize(source);
        String baseFile = BASE_PREFIX + UUID.randomUUID() + (format.equals("raw") ? RAW : QCOW2);
        Path base = directory.resolve(baseFile);
        Path newSource = directory.resolve(TEMP_PREFIX + UUID.randomUUID() + QCOW2);
        Path newCopy = directory.resolve(TEMP_PREFIX + UUID.randomUUID() + QCOW2);
        boolean switched = false;
        try {
            Files.createLink(base, source);
            CrashPoints.reach("file.snapshot.after-link");
            for (Path overlay : List.of(newSource, newCopy)) {
                runner.check(
                        List.of(
                                "qemu-img",
                                "create",
                                "-q",
                                "-f",
                                "qcow2",
                                "-u",
                                "-b",
                                baseFile,
                                "-F",
                                format,
                                overlay.toString(),
                                Long.toString(size)),
                        TOOL_TIMEOUT);
            }
            if (sourceReadOnly) {
                Files.setPosixFilePermissions(newSource, READ_ONLY);
            }
            if (readOnlyCopy) {
                Files.setPosixFilePermissions(newCopy, READ_ONLY);
            }
            if (live.isPresent()) {
                // the daemon writes to newSource from the switch on: put it in place at once
                switchLive(live.get(), volumeName, source, newSource);
                switched = true;
                Files.move(newSource, directory.resolve(volumeName + QCOW2), StandardCopyOption.ATOMIC_MOVE);
                Files.move(newCopy, directory.resolve(copyName + QCOW2), StandardCopyOption.ATOMIC_MOVE);
            } else {
                Files.move(newCopy, directory.resolve(copyName + QCOW2), StandardCopyOption.ATOMIC_MOVE);
                CrashPoints.reach("file.snapshot.after-copy");
                Files.move(newSource, directory.resolve(volumeName + QCOW2), StandardCopyOption.ATOMIC_MOVE);
            }
            if (format.equals("raw")) {
                Files.delete(source);
            }
            Files.setPosixFilePermissions(base, READ_ONLY);
        } catch (IOException | RuntimeException e) {
            if (e instanceof ThinsrException thinsr && thinsr.getCause() instanceof SwitchUnknownException) {
                switched = true;
            }
            if (switched && Files.exists(newSource)) {
                // the daemon writes to newSource now: deleting it would lose those writes
                deleteQuietly(newCopy);
                throw new ThinsrException(
                        ErrorCode.IO_ERROR,
                        "cannot copy volume " + volumeName + " to " + copyName + ": its export may write to "
                                + newSource + " now, which was not renamed to " + volumeName + QCOW2 + ": " + e
                                + "; rename it by hand before the SR is introduced again (introduce deletes "
                                + TEMP_PREFIX + "* files)",
                        e,
                        volumeName);
            }
            deleteQuietly(newSource);
            deleteQuietly(newCopy);
            if (findVolume(directory, volumeName)
                    .map(Path::getFileName)
                    .map(Path::toString)
                    .orElse("")
                    .equals(source.getFileName().toString())) {
                collectBases(directory);
            }
            if (e instanceof IOException io) {
                throw ioError("cannot copy volume " + volumeName + " to " + copyName, io);
            }
            throw (RuntimeException) e;
        } finally {
            if (reattach) {
                attach(sr, volumeName, Optional.empty(), false);
            }
        }
        return statVolume(sr, copyName);
    }

    /**
     * Switches the export of an attached volume onto the new qcow2 overlay {@code overlay} (on the
     * hidden base, the inode the daemon has open) without stopping the daemon: {@code blockdev-add}
     * opens the overlay with no backing, {@code blockdev-snapshot} makes the node the export serves
     * now (see {@code query-block-exports}: {@code disk} at first, the previous overlay after an
     * earlier live snapshot) the overlay's backing. qemu drains and flushes that node and reopens it
     * read-only; every parent, the export's too, moves onto the overlay, so from the reply on all
     * writes go to {@code overlay} and the base holds exactly the content at the switch.
     *
     * <p>qemu reopens the old node read-only by the file name it was opened by (a writable node would
     * keep its write lock on what is now a shared base, and no one could attach the copy). So the
     * volume's file must still name the old inode here: the caller renames {@code overlay} over it
     * only after this returns. The overlay node keeps the temporary name it was opened by; at the next
     * live snapshot that name is linked to the volume's file again for the switch, then removed.
     *
     * @throws ThinsrException when the switch did not happen: the daemon is as it was (the overlay
     *     node is deleted again), {@code overlay} untouched
     */
    private static void switchLive(QemuMonitor monitor, String volumeName, Path volumeFile, Path overlay) {
        String node = "thinsr-snap-" + UUID.randomUUID().toString().substring(0, 8);
        String what = "live snapshot of volume " + volumeName + " through " + monitor.socket();
        Optional<Path> alias = Optional.empty();
        try (QmpClient client = QmpClient.connect(monitor.socket(), MONITOR_OPTIONS)) {
            String current = monitor.exportNode(client);
            JsonNode jobs = client.execute("query-jobs", null);
            if (jobs.isArray() && !jobs.isEmpty()) {
                throw new ThinsrException(
                        ErrorCode.VDI_IN_USE,
                        what + ": block job " + jobs.get(0).path("id").asText() + " ("
                                + jobs.get(0).path("status").asText() + ") runs on it; wait for it to end",
                        volumeName);
            }
            JsonNode currentNode = namedNode(client, current);
            String driver = currentNode.path("drv").asText("?");
            if (!driver.equals("qcow2") && !driver.equals("raw")) {
                throw new ThinsrException(
                        ErrorCode.VDI_IN_USE,
                        what + ": the export serves node " + current + " of driver " + driver
                                + ", expected qcow2 or raw (was the volume live-migrated away?)",
                        volumeName);
            }
            // qemu reopens the node read-only by the file name it was opened by; an earlier live
            // snapshot's overlay was opened by a temporary name since renamed to the volume's:
            // link that name to the volume's file again for the switch
            Path opened = fileOf(currentNode);
            if (!volumeFile.getParent().equals(opened.getParent())) {
                throw new ThinsrException(
                        ErrorCode.VDI_IN_USE,
                        what + ": node " + current + " reads " + opened + ", expected a file in "
                                + volumeFile.getParent(),
                        volumeName);
            }
            if (!Files.exists(opened, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createLink(opened, volumeFile);
                alias = Optional.of(opened);
            } else if (!Files.isSameFile(opened, volumeFile)) {
                throw new ThinsrException(
                        ErrorCode.VDI_IN_USE,
                        what + ": node " + current + " was opened as " + opened + ", which now names another file than "
                                + volumeFile + "; detach and attach the volume",
                        volumeName);
            }
            ObjectNode add = SrMetadataStore.JSON.createObjectNode();
            add.put("driver", "qcow2");
            add.put("node-name", node);
            ObjectNode file = add.putObject("file");
            file.put("driver", "file");
            file.put("filename", overlay.toString());
            add.putNull("backing");
            client.execute("blockdev-add", add);
            ObjectNode snapshot = SrMetadataStore.JSON.createObjectNode();
            snapshot.put("node", current);
            snapshot.put("overlay", node);
            try {
                client.execute("blockdev-snapshot", snapshot);
            } catch (QmpException e) {
                deleteNode(client, node, e);
                throw e;
            } catch (IOException e) {
                // no reply: the switch may have happened; ask again (the monitor runs commands in order)
                if (!switchedTo(monitor, node, e)) {
                    throw e;
                }
            }
        } catch (QmpException e) {
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED,
                    what + ": qemu-storage-daemon refused " + e.command() + " (" + e.errorClass() + "): "
                            + e.description() + "; the volume stays as it was",
                    e,
                    volumeName);
        } catch (SwitchUnknownException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, what + ": " + e.getMessage(), e, volumeName);
        } catch (IOException e) {
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED,
                    what + ": " + e.getMessage() + "; the volume stays as it was",
                    e,
                    volumeName);
        } finally {
            alias.ifPresent(FileBackend::deleteQuietly);
        }
    }

    /**
     * The file a format node reads, from its {@code query-named-block-nodes} entry: {@code file} is
     * the path, or a {@code json:} description whose {@code file.filename} is.
     */
    private static Path fileOf(JsonNode node) throws IOException {
        String file = node.path("file").asText("");
        if (file.startsWith("json:")) {
            file = SrMetadataStore.JSON
                    .readTree(file.substring("json:".length()))
                    .path("file")
                    .path("filename")
                    .asText("");
        }
        if (file.isEmpty() || !file.startsWith("/") || file.indexOf('\0') >= 0) {
            throw new IOException(
                    "query-named-block-nodes: node " + node.path("node-name").asText() + " has file '"
                            + node.path("file").asText() + "', expected an absolute path");
        }
        return Path.of(file).normalize();
    }

    private static final QmpClient.Options MONITOR_OPTIONS = new QmpClient.Options(Duration.ofSeconds(30), 16 << 20);

    private static JsonNode namedNode(QmpClient client, String nodeName) throws IOException {
        ObjectNode flat = SrMetadataStore.JSON.createObjectNode().put("flat", true);
        for (JsonNode node : client.execute("query-named-block-nodes", flat)) {
            if (nodeName.equals(node.path("node-name").asText())) {
                return node;
            }
        }
        throw new IOException("query-named-block-nodes: actual no node '" + nodeName + "', expected the export's");
    }

    /**
     * After {@code blockdev-snapshot} got no reply: whether the export serves {@code node} now, asked
     * over a new connection. When it does not, deletes {@code node}.
     *
     * @throws IOException (with {@code failure} suppressed) when that cannot be told either
     */
    private static boolean switchedTo(QemuMonitor monitor, String node, IOException failure) throws IOException {
        try (QmpClient client = QmpClient.connect(monitor.socket(), MONITOR_OPTIONS)) {
            if (monitor.exportNode(client).equals(node)) {
                return true;
            }
            deleteNode(client, node, failure);
            return false;
        } catch (IOException e) {
            IOException unknown = new SwitchUnknownException(
                    "blockdev-snapshot got no reply (" + failure.getMessage()
                            + ") and whether the export was switched to node " + node + " cannot be told: "
                            + e.getMessage(),
                    e);
            unknown.addSuppressed(failure);
            throw unknown;
        }
    }

    /** Whether the export was switched to the overlay cannot be told: the overlay must be kept. */
    private static final class SwitchUnknownException extends IOException {
        private static final long serialVersionUID = 1L;

        SwitchUnknownException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static void deleteNode(QmpClient client, String node, Exception failure) {
        try {
            client.execute(
                    "blockdev-del", SrMetadataStore.JSON.createObjectNode().put("node-name", node));
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private static boolean isReadOnly(Path file) {
        try {
            return !Files.getPosixFilePermissions(file).contains(PosixFilePermission.OWNER_WRITE);
        } catch (IOException e) {
            throw ioError("cannot read the mode of " + file, e);
        }
    }

    @Override
    public VolumeInfo resize(SrInfo sr, String volumeName, long newVirtualSizeBytes) {
        Path directory = directory(sr);
        Path file = volume(directory, volumeName);
        long size = roundUp(newVirtualSizeBytes);
        String format = formatOf(file);
        long current = virtualSize(file);
        if (size < current) {
            throw new ThinsrException(
                    ErrorCode.VDI_SHRINK_REFUSED,
                    "volume " + volumeName + " is " + current + " bytes; shrinking to " + size + " is refused",
                    volumeName,
                    Long.toString(current),
                    Long.toString(size));
        }
        if (size == current) {
            return statVolume(sr, volumeName);
        }
        if (attachment(sr, volumeName).isPresent()) {
            throw new ThinsrException(
                    ErrorCode.VDI_IN_USE, "volume " + volumeName + " is attached; detach it to resize", volumeName);
        }
        List<String> argv = new ArrayList<>(List.of("qemu-img", "resize", "-q", "-f", format));
        if (format.equals("raw")) {
            argv.add("--preallocation=full");
        }
        argv.addAll(List.of(file.toString(), Long.toString(size)));
        boolean readOnly = isReadOnly(file);
        try {
            if (readOnly) {
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
            }
            runner.check(argv, TOOL_TIMEOUT);
            if (readOnly) {
                Files.setPosixFilePermissions(file, READ_ONLY);
            }
        } catch (IOException e) {
            throw ioError("cannot resize " + volumeName, e);
        }
        return statVolume(sr, volumeName);
    }

    // ---- attach ----

    /**
     * Whether daemons open their files with {@code aio=io_uring}: unknown until the first attach,
     * false once a daemon refused it (a kernel with io_uring disabled, a qemu built without it).
     */
    private static volatile Boolean ioUring;

    private Path runFile(SrInfo sr, String volumeName, String suffix) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] hash = digest.digest((sr.location() + "\0" + volumeName).getBytes(StandardCharsets.UTF_8));
            return runDirectory.resolve("f" + HexFormat.of().formatHex(hash, 0, 10) + suffix);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from the JDK", e);
        }
    }

    @Override
    public Attachment attach(SrInfo sr, String volumeName, Optional<Origin> origin, boolean readOnly) {
        Path directory = directory(sr);
        Path file = volume(directory, volumeName);
        Optional<Attachment> existing = attachment(sr, volumeName);
        if (existing.isPresent()) {
            return existing.get();
        }
        boolean exportReadOnly = readOnly || isReadOnly(file);
        Path socket = runFile(sr, volumeName, ".sock");
        Path pidFile = runFile(sr, volumeName, ".pid");
        Path monitor = runFile(sr, volumeName, MONITOR_SUFFIX);
        Path record = runFile(sr, volumeName, ".json");
        if (socket.toString().length() > 100) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "socket path " + socket + " is too long for a unix socket",
                    socket.toString());
        }
        try {
            Files.createDirectories(runDirectory);
            Files.deleteIfExists(socket);
            Files.deleteIfExists(pidFile);
            Files.deleteIfExists(monitor);
            ObjectNode export = SrMetadataStore.JSON.createObjectNode();
            export.put("type", "nbd");
            export.put("id", EXPORT_ID);
            export.put("node-name", NODE_NAME);
            export.put("name", volumeName);
            export.put("writable", !exportReadOnly);
            boolean uring = !Boolean.FALSE.equals(ioUring);
            List<String> argv = daemonArgv(file, exportReadOnly, uring, socket, export, monitor, pidFile);
            CommandRunner.Result started = runner.run(argv, Map.of(), Duration.ofSeconds(60));
            if (started.exitStatus() != 0 && uring && started.stderr().contains("io_uring")) {
                ioUring = false; // this kernel or qemu has no io_uring: threads from now on
                argv = daemonArgv(file, exportReadOnly, false, socket, export, monitor, pidFile);
                started = runner.run(argv, Map.of(), Duration.ofSeconds(60));
            }
            if (started.exitStatus() != 0) {
                throw CommandRunner.failed(argv, started);
            }
            if (uring && ioUring == null) {
                ioUring = true;
            }
            Attachment attachment = new Attachment(
                    volumeName, Attachment.Kind.NBD, "nbd+unix:///" + volumeName + "?socket=" + socket, exportReadOnly);
            Path temp = runDirectory.resolve(record.getFileName() + ".tmp");
            Files.write(temp, SrMetadataStore.JSON.writeValueAsBytes(attachment));
            Files.move(temp, record, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return attachment;
        } catch (IOException e) {
            throw ioError("cannot attach volume " + volumeName, e);
        }
    }

    /**
     * The {@code qemu-storage-daemon} command line that serves {@code file}: its format node over a
     * {@code file} node, with {@code aio=io_uring} when {@code uring} (fewer system calls and
     * threads per write than the default thread pool: the writer of a migration or import spends
     * a third less CPU), an NBD export on {@code socket} and a QMP monitor.
     */
    private static List<String> daemonArgv(
            Path file, boolean readOnly, boolean uring, Path socket, ObjectNode export, Path monitor, Path pidFile)
            throws java.io.IOException {
        ObjectNode blockdev = SrMetadataStore.JSON.createObjectNode();
        blockdev.put("driver", formatOf(file));
        blockdev.put("node-name", NODE_NAME);
        blockdev.put("read-only", readOnly);
        ObjectNode protocol = blockdev.putObject("file");
        protocol.put("driver", "file");
        protocol.put("filename", file.toString());
        if (uring) {
            protocol.put("aio", "io_uring");
        }
        return List.of(
                "qemu-storage-daemon",
                "--blockdev",
                SrMetadataStore.JSON.writeValueAsString(blockdev),
                "--nbd-server",
                "addr.type=unix,addr.path=" + socket,
                "--export",
                SrMetadataStore.JSON.writeValueAsString(export),
                "--chardev",
                "socket,id=qmp0,path=" + monitor + ",server=on,wait=off",
                "--monitor",
                "chardev=qmp0",
                "--pidfile",
                pidFile.toString(),
                "--daemonize");
    }

    private Optional<ProcessHandle> daemon(SrInfo sr, String volumeName) {
        Path pidFile = runFile(sr, volumeName, ".pid");
        try {
            String text = Files.readString(pidFile, StandardCharsets.US_ASCII).strip();
            if (!text.matches("[0-9]{1,10}")) {
                return Optional.empty();
            }
            return ProcessHandle.of(Long.parseLong(text))
                    .filter(FileBackend::running)
                    .filter(process -> process.info()
                            .command()
                            .map(c -> c.endsWith("qemu-storage-daemon"))
                            .orElse(true));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw ioError("cannot read " + pidFile, e);
        }
    }

    @Override
    public Optional<Attachment> attachment(SrInfo sr, String volumeName) {
        Path record = runFile(sr, volumeName, ".json");
        if (!Files.isRegularFile(record) || daemon(sr, volumeName).isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(SrMetadataStore.JSON.readValue(Files.readAllBytes(record), Attachment.class));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * The QMP monitor of the {@code qemu-storage-daemon} serving an attached volume: the {@code .qmp}
     * socket next to its pid file, node {@code disk} (the volume as attached; after live snapshots the
     * export serves an overlay above it: ask {@code query-block-exports}). Empty when the volume is not
     * attached or its daemon was started without a monitor (by an older thinsr).
     */
    @Override
    public Optional<QemuMonitor> monitor(SrInfo sr, String volumeName) {
        Path monitor = runFile(sr, volumeName, MONITOR_SUFFIX);
        if (attachment(sr, volumeName).isEmpty() || !Files.exists(monitor)) {
            return Optional.empty();
        }
        return Optional.of(new QemuMonitor(monitor, NODE_NAME, EXPORT_ID));
    }

    /**
     * Stops the volume's daemon, then merges hidden bases with one child ({@link #coalesceBases}) when
     * the volume's file is an overlay on a hidden base: a destroy while it was attached may have left
     * its chain to shorten.
     */
    @Override
    public void detach(SrInfo sr, String volumeName) {
        stop(sr, volumeName);
        Path directory = Path.of(sr.location());
        if (!Files.isRegularFile(directory.resolve(METADATA_FILE))) {
            return;
        }
        Optional<Path> file = findVolume(directory, volumeName);
        if (file.isPresent()
                && formatOf(file.get()).equals("qcow2")
                && backingFile(file.get()).startsWith(BASE_PREFIX)) {
            coalesceBases(sr, directory);
        }
    }

    /** Stops the daemon exporting the volume, if any, and removes its run files. */
    private void stop(SrInfo sr, String volumeName) {
        Optional<ProcessHandle> daemon = daemon(sr, volumeName);
        if (daemon.isPresent()) {
            ProcessHandle process = daemon.get();
            process.destroy();
            if (!awaitExit(process, Duration.ofSeconds(10), volumeName)) {
                process.destroyForcibly();
                awaitExit(process, Duration.ofSeconds(10), volumeName);
            }
            if (running(process)) {
                throw new ThinsrException(
                        ErrorCode.TOOL_FAILED,
                        "qemu-storage-daemon " + process.pid() + " exporting " + volumeName + " does not stop",
                        volumeName);
            }
        }
        for (String suffix : List.of(".json", ".pid", ".sock", MONITOR_SUFFIX)) {
            deleteQuietly(runFile(sr, volumeName, suffix));
        }
    }

    /**
     * Whether {@code process} still runs. A daemon that exited stays a zombie until init reaps it
     * (some inits do so only every second or two); once its leader is a zombie and no other thread
     * of it is left (the last one out closes the files, locks and socket), it counts as gone. A
     * zombie leader whose other threads still finish I/O still runs.
     */
    static boolean running(ProcessHandle process) {
        if (!process.isAlive()) {
            return false;
        }
        Path proc = Path.of("/proc", Long.toString(process.pid()));
        try {
            String stat = Files.readString(proc.resolve("stat"));
            int afterName = stat.lastIndexOf(')');
            String state = afterName < 0 ? "" : stat.substring(afterName + 1).strip();
            if (!state.startsWith("Z") && !state.startsWith("X")) {
                return true;
            }
            try (Stream<Path> tasks = Files.list(proc.resolve("task"))) {
                return tasks.count() > 1;
            }
        } catch (NoSuchFileException e) {
            return false; // reaped while we looked
        } catch (IOException e) {
            return process.isAlive(); // no /proc: trust the handle
        }
    }

    /**
     * Waits until {@code process} (a daemon, not our child) has exited. Polled every few
     * milliseconds: {@code ProcessHandle.onExit()} of a non-child backs off to a second or more.
     */
    private static boolean awaitExit(ProcessHandle process, Duration timeout, String volumeName) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pauseMillis = 1;
        while (running(process)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while detaching " + volumeName, e);
            }
            pauseMillis = Math.min(20, pauseMillis * 2);
        }
        return true;
    }

    // ---- maps and figures ----

    /** The virtual size: a raw file's length, or the size in a qcow2 file's header. */
    private static long virtualSize(Path file) {
        if (formatOf(file).equals("raw")) {
            try {
                return Files.size(file);
            } catch (IOException e) {
                throw ioError("cannot read the size of " + file, e);
            }
        }
        return qcow2Header(file).virtualSize();
    }

    /** The backing file name stored in a qcow2 file (empty for none), as {@code qemu-img info} prints it. */
    private static String backingFile(Path file) {
        return qcow2Header(file).backingFile();
    }

    private static Qcow2Header qcow2Header(Path file) {
        try {
            return Qcow2Header.read(file);
        } catch (CorruptInputException e) {
            throw new ThinsrException(ErrorCode.CORRUPT_IMAGE, e.getMessage(), e);
        } catch (IOException e) {
            throw ioError("cannot read the qcow2 header of " + file, e);
        }
    }

    /**
     * The bytes {@code file} occupies on disk ({@code qemu-img info}'s {@code actual-size}): one
     * {@code statx} ({@link FileAllocation}), or {@code qemu-img info} where the platform cannot
     * tell. It used to be {@code qemu-img info} always, five runs of 25–45 ms per migration.
     */
    private long allocatedBytes(Path file, String format) {
        try {
            OptionalLong bytes = FileAllocation.allocatedBytes(file);
            if (bytes.isPresent()) {
                return bytes.getAsLong();
            }
        } catch (IOException e) {
            throw ioError("cannot read the allocation of " + file, e);
        }
        return imageInfo(file, format).path("actual-size").asLong(0);
    }

    private JsonNode imageInfo(Path file, String format) {
        String json = runner.check(
                List.of("qemu-img", "info", "-U", "--output=json", "-f", format, file.toString()), TOOL_TIMEOUT);
        try {
            return SrMetadataStore.JSON.readTree(json);
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, "qemu-img info printed invalid JSON for " + file, e);
        }
    }

    private JsonNode imageMap(Path file) {
        String json = runner.check(
                List.of("qemu-img", "map", "-U", "--output=json", "-f", formatOf(file), file.toString()), TOOL_TIMEOUT);
        try {
            JsonNode map = SrMetadataStore.JSON.readTree(json);
            if (!map.isArray()) {
                throw new ThinsrException(ErrorCode.TOOL_FAILED, "qemu-img map printed no JSON array for " + file);
            }
            return map;
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, "qemu-img map printed invalid JSON for " + file, e);
        }
    }

    /**
     * The volume read from its chain's files ({@link FileChainSource}) when every layer is a local
     * raw file or a qcow2 file with plain clusters and {@code qemu-img map} gives every data run a
     * file offset (no compressed cluster, no external origin): no daemon, and no copy of the data
     * through its socket. Empty otherwise, and for a volume not attached read-only (its files may
     * change).
     */
    @Override
    public Optional<BlockSource> openDirect(SrInfo sr, String volumeName) throws IOException {
        Optional<Attachment> attached = attachment(sr, volumeName);
        if (attached.isEmpty() || !attached.get().readOnly()) {
            return Optional.empty();
        }
        Path directory = directory(sr);
        Path file = volume(directory, volumeName);
        List<Path> chain = chain(directory, file);
        for (Path layer : chain) {
            if (!formatOf(layer).equals("raw") && !qcow2Header(layer).plainClusters()) {
                return Optional.empty();
            }
        }
        long size = virtualSize(file);
        String json = mapJson(sr, volumeName, directory, file);
        HostExtents host = QemuImgMapParser.hostExtents(
                new java.io.ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)),
                "qemu-img map of " + file,
                size);
        if (!host.locatedWithin(chain.size())) {
            return Optional.empty();
        }
        return Optional.of(FileChainSource.open(chain, host, size));
    }

    /** The map of {@code qemu-img map --output=json}, parsed by allocmap's {@link QemuImgMapParser}. */
    @Override
    public AllocationMap allocationMap(SrInfo sr, String volumeName) {
        Path directory = directory(sr);
        Path file = volume(directory, volumeName);
        long size = virtualSize(file);
        String json = mapJson(sr, volumeName, directory, file);
        try {
            return QemuImgMapParser.parse(
                    new java.io.ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)),
                    "qemu-img map of " + file,
                    size);
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, e.getMessage(), e);
        }
    }

    /**
     * The last {@code qemu-img map} output of a volume that nothing had open for writing, with the
     * state of its chain's files then: a copy pass asks for the same snapshot's map twice in a row
     * (its allocation map, then its direct reader's file offsets), and one run of {@code qemu-img
     * map} over a chain of many thousand clusters is a tenth of a second.
     */
    private record MapOutput(List<List<Object>> fingerprint, String json) {}

    private static volatile MapOutput lastMap; // per process: backends are made per SR session

    /**
     * {@code qemu-img map --output=json} of a volume, reused while no file of its chain changed
     * (inode, size, modification and change times) and it is not attached for writing.
     */
    private String mapJson(SrInfo sr, String volumeName, Path directory, Path file) {
        boolean writable = attachment(sr, volumeName).map(a -> !a.readOnly()).orElse(false);
        List<List<Object>> fingerprint = writable ? null : fingerprint(chain(directory, file));
        MapOutput last = lastMap;
        if (fingerprint != null && last != null && last.fingerprint().equals(fingerprint)) {
            return last.json();
        }
        String json = runner.check(
                List.of("qemu-img", "map", "-U", "--output=json", "-f", formatOf(file), file.toString()), TOOL_TIMEOUT);
        if (fingerprint != null) {
            lastMap = new MapOutput(fingerprint, json);
        }
        return json;
    }

    /** What identifies the state of each file: path, inode, size, mtime and ctime; null when unreadable. */
    private static List<List<Object>> fingerprint(List<Path> files) {
        List<List<Object>> fingerprint = new ArrayList<>();
        try {
            for (Path file : files) {
                Map<String, Object> attributes = Files.readAttributes(file, "unix:ino,size,lastModifiedTime,ctime");
                fingerprint.add(List.of(
                        file.toString(),
                        attributes.get("ino"),
                        attributes.get("size"),
                        attributes.get("lastModifiedTime"),
                        attributes.get("ctime")));
            }
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null; // no unix attribute view here: always ask qemu-img
        }
        return fingerprint;
    }

    /** The files of a volume's chain inside the SR directory, top first; stops at an external origin. */
    private List<Path> chain(Path directory, Path top) {
        List<Path> chain = new ArrayList<>();
        Path layer = top;
        while (layer != null && chain.size() < MAX_CHAIN) {
            chain.add(layer);
            if (formatOf(layer).equals("raw")) {
                break;
            }
            String backing = backingFile(layer);
            layer = backing.startsWith(BASE_PREFIX) && backing.indexOf('/') < 0 ? directory.resolve(backing) : null;
        }
        return chain;
    }

    private static int indexOfSame(List<Path> chain, Path file) {
        for (int i = 0; i < chain.size(); i++) {
            try {
                if (Files.isSameFile(chain.get(i), file)) {
                    return i;
                }
            } catch (IOException e) {
                throw ioError("cannot compare " + chain.get(i) + " and " + file, e);
            }
        }
        return -1;
    }

    /** Extents allocated in layers {@code [0, depthLimit)} of {@code top}'s chain. */
    private ExtentSet allocatedAbove(Path top, int depthLimit) {
        ExtentSet.Builder builder = ExtentSet.builder();
        boolean raw = formatOf(top).equals("raw");
        for (JsonNode entry : imageMap(top)) {
            int depth = entry.path("depth").asInt(0);
            boolean present = entry.path("present").asBoolean(true);
            boolean data = entry.path("data").asBoolean(false);
            if (depth < depthLimit && present && (data || !raw)) {
                long start = entry.path("start").asLong();
                builder.add(start, start + entry.path("length").asLong());
            }
        }
        return builder.build();
    }

    @Override
    public ExtentSet delta(SrInfo sr, String volumeName, String baseVolumeName) {
        Path directory = directory(sr);
        Path top = volume(directory, volumeName);
        Path base = volume(directory, baseVolumeName);
        long topSize = virtualSize(top);
        long baseSize = virtualSize(base);
        List<Path> topChain = chain(directory, top);
        List<Path> baseChain = chain(directory, base);
        int topCommon = -1;
        int baseCommon = -1;
        for (int i = 0; i < topChain.size() && topCommon < 0; i++) {
            int j = indexOfSame(baseChain, topChain.get(i));
            if (j >= 0) {
                topCommon = i;
                baseCommon = j;
            }
        }
        ExtentSet changed;
        if (topCommon < 0) {
            changed = allocationMap(sr, volumeName)
                    .dataExtents()
                    .union(allocationMap(sr, baseVolumeName).dataExtents());
        } else {
            changed = allocatedAbove(top, topCommon).union(allocatedAbove(base, baseCommon));
        }
        long larger = Math.max(topSize, baseSize);
        long smaller = Math.min(topSize, baseSize);
        if (larger > smaller) {
            changed = changed.union(ExtentSet.of(smaller, larger));
        }
        return changed.alignOut(CLUSTER_SIZE).clip(0, larger);
    }

    @Override
    public VolumeInfo statVolume(SrInfo sr, String volumeName) {
        Path directory = directory(sr);
        Path file = volume(directory, volumeName);
        String format = formatOf(file);
        long virtualSize = virtualSize(file);
        boolean hasOrigin = false;
        if (format.equals("qcow2")) {
            List<Path> chain = chain(directory, file);
            Path last = chain.getLast();
            if (formatOf(last).equals("qcow2")) {
                hasOrigin = !backingFile(last).isEmpty();
            }
        }
        return new VolumeInfo(
                volumeName,
                virtualSize,
                allocatedBytes(file, format),
                format.equals("raw") ? Provisioning.PREALLOCATED : Provisioning.THIN,
                isReadOnly(file),
                hasOrigin,
                file.toString());
    }

    @Override
    public List<VolumeInfo> listVolumes(SrInfo sr) {
        Path directory = directory(sr);
        List<VolumeInfo> volumes = new ArrayList<>();
        for (String name : visibleNames(directory)) {
            volumes.add(statVolume(sr, name));
        }
        return volumes;
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // best effort: introduceSr removes leftovers
        }
    }

    static ThinsrException ioError(String what, IOException e) {
        return new ThinsrException(ErrorCode.IO_ERROR, what + ": " + e, e);
    }
}
