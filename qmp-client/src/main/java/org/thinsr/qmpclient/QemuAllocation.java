package org.thinsr.qmpclient;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/**
 * Allocation maps of qemu images, from NBD block status or from {@code qemu-img map}.
 *
 * <p>{@code base:allocation} (flags {@code NBD_STATE_HOLE = 1}, {@code NBD_STATE_ZERO = 2}):
 *
 * <ul>
 *   <li>0 → DATA; ZERO → ZERO; HOLE|ZERO → HOLE;
 *   <li>HOLE alone → DATA. proto.md lets a server report a hole that does not read as zeros
 *       ({@code NBD_STATE_HOLE} without {@code NBD_STATE_ZERO}); our HOLE promises zeros, so such a
 *       range must be read like data.
 * </ul>
 *
 * <p>{@code qemu:allocation-depth} (the whole value): 0 (unallocated in the chain) → HOLE; 1 (the
 * image itself) → LOCAL; {@code n} → {@code origin(n - 1)}. With both contexts an allocated range
 * whose base flags say HOLE|ZERO (a qcow2 zero cluster) becomes ZERO.
 *
 * <p>Block status is asked in windows of at most 2 GiB aligned to 2 GiB, so descriptors stay
 * aligned; a server that answers less than a window is asked again from where it stopped.
 */
public final class QemuAllocation {
    public static final String BASE_ALLOCATION = "base:allocation";
    public static final String ALLOCATION_DEPTH = "qemu:allocation-depth";
    public static final String DIRTY_BITMAP_PREFIX = "qemu:dirty-bitmap:";
    /** Block status window: 2 GiB, aligned. */
    static final long WINDOW = NbdConnection.MAX_EFFECT_LENGTH;

    private QemuAllocation() {}

    /**
     * The allocation map of the export behind {@code connection}: from {@code base:allocation} and,
     * when it was negotiated too, {@code qemu:allocation-depth}.
     */
    public static AllocationMap map(NbdConnection connection) throws IOException {
        Map<String, StatusRuns> runs = statusRuns(connection, 0, connection.size());
        StatusRuns base = runs.get(BASE_ALLOCATION);
        StatusRuns depth = runs.get(ALLOCATION_DEPTH);
        if (base == null) {
            throw new IllegalStateException("the connection did not negotiate " + BASE_ALLOCATION + ": "
                    + connection.info().metaContexts());
        }
        return depth == null ? fromBase(base) : fromBaseAndDepth(base, depth);
    }

    /**
     * The dirty extents of {@code qemu:dirty-bitmap:NAME} on the export: the ranges written since
     * the bitmap was created (at the bitmap's granularity).
     */
    public static ExtentSet dirtyExtents(NbdConnection connection, String bitmapName) throws IOException {
        String context = DIRTY_BITMAP_PREFIX + bitmapName;
        StatusRuns runs = statusRuns(connection, 0, connection.size()).get(context);
        if (runs == null) {
            throw new IllegalStateException("the connection did not negotiate " + context + ": "
                    + connection.info().metaContexts().values());
        }
        return dirtyExtents(runs);
    }

    /** Extents whose status has bit 0 ({@code NBD_STATE_DIRTY}) set. */
    public static ExtentSet dirtyExtents(StatusRuns runs) {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int i = 0; i < runs.count(); i++) {
            if ((runs.flags(i) & 1) != 0) {
                builder.add(runs.start(i), runs.end(i));
            }
        }
        return builder.build();
    }

    /**
     * Block status of every negotiated context over {@code [start, end)}, asked in aligned windows
     * of at most 2 GiB; contexts that answer at different paces are each asked again from where
     * they stopped.
     *
     * @return one gap-free run list per context, by name, covering {@code [start, end)} (runs
     *     start at {@code start}; for {@code start = 0} they are the whole export)
     */
    public static Map<String, StatusRuns> statusRuns(NbdConnection connection, long start, long end)
            throws IOException {
        List<String> contexts = new ArrayList<>(connection.info().metaContexts().values());
        if (contexts.isEmpty()) {
            throw new IllegalStateException("no meta context was negotiated on this connection");
        }
        if (start != 0) {
            throw new IllegalArgumentException("status runs start at 0: " + start);
        }
        Map<String, StatusRuns.Builder> builders = new java.util.LinkedHashMap<>();
        for (String context : contexts) {
            builders.put(context, StatusRuns.builder(context));
        }
        long offset = start;
        while (offset < end) {
            long windowEnd = Math.min(end, (offset / WINDOW + 1) * WINDOW);
            Map<String, BlockStatusExtents> reply = connection.blockStatus(offset, windowEnd - offset);
            for (Map.Entry<String, BlockStatusExtents> entry : reply.entrySet()) {
                StatusRuns.Builder builder = builders.get(entry.getKey());
                BlockStatusExtents extents = entry.getValue();
                for (int i = 0; i < extents.count(); i++) {
                    builder.extendTo(extents.end(i), extents.flags(i));
                }
            }
            long next = Long.MAX_VALUE;
            for (StatusRuns.Builder builder : builders.values()) {
                next = Math.min(next, builder.position());
            }
            if (next <= offset) {
                throw CorruptInputException.of(
                        "NBD block status at offset " + offset, "progress", "none", "at least one byte described");
            }
            offset = next;
        }
        Map<String, StatusRuns> result = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, StatusRuns.Builder> entry : builders.entrySet()) {
            StatusRuns.Builder builder = entry.getValue();
            if (builder.position() != end) {
                throw new IllegalStateException(entry.getKey() + " ends at " + builder.position() + ", not " + end);
            }
            result.put(entry.getKey(), builder.build());
        }
        return result;
    }

    /** {@code base:allocation} alone: everything LOCAL. */
    public static AllocationMap fromBase(StatusRuns base) {
        AllocationMap.Builder builder = AllocationMap.builder(base.size());
        for (int i = 0; i < base.count(); i++) {
            builder.add(base.start(i), base.end(i), baseState(base.flags(i)), Provenance.LOCAL);
        }
        return builder.build();
    }

    /** The state a {@code base:allocation} status stands for (see the class comment). */
    public static State baseState(int flags) {
        boolean hole = (flags & NbdProtocol.STATE_HOLE) != 0;
        boolean zero = (flags & NbdProtocol.STATE_ZERO) != 0;
        if (hole && zero) {
            return State.HOLE;
        }
        return zero ? State.ZERO : State.DATA;
    }

    /** The provenance a {@code qemu:allocation-depth} value at least 1 stands for. */
    public static Provenance depthProvenance(int depth) {
        if (depth < 1) {
            throw new IllegalArgumentException("allocation depth " + depth + " is unallocated, not a provenance");
        }
        return Provenance.ofDepth(depth - 1);
    }

    /** {@code base:allocation} and {@code qemu:allocation-depth} swept together. */
    public static AllocationMap fromBaseAndDepth(StatusRuns base, StatusRuns depth) {
        if (base.size() != depth.size()) {
            throw new IllegalArgumentException(
                    "contexts cover different sizes: base " + base.size() + ", depth " + depth.size());
        }
        AllocationMap.Builder builder = AllocationMap.builder(base.size());
        int b = 0;
        int d = 0;
        long position = 0;
        while (position < base.size()) {
            long end = Math.min(base.end(b), depth.end(d));
            int level = depth.flags(d);
            if (level == 0) {
                builder.add(position, end, State.HOLE, Provenance.LOCAL);
            } else {
                State state = baseState(base.flags(b));
                builder.add(position, end, state == State.HOLE ? State.ZERO : state, depthProvenance(level));
            }
            position = end;
            if (base.end(b) == end) {
                b++;
            }
            if (depth.end(d) == end) {
                d++;
            }
        }
        return builder.build();
    }

    /**
     * The allocation map of the block node {@code nodeName} of a running qemu or
     * qemu-storage-daemon: exports it read-only with {@code qemu:allocation-depth} on the NBD server
     * already listening on the unix socket {@code nbdServerSocket}, maps it with {@link #map}, and
     * deletes the export again.
     */
    public static AllocationMap ofNode(QmpCommands qmp, String nodeName, Path nbdServerSocket) throws IOException {
        String id = "thinsr-map-" + Long.toHexString(System.nanoTime());
        qmp.blockExportAddNbd(id, nodeName, id, false, true, List.of());
        try (NbdConnection connection = NbdConnection.connect(
                NbdUri.unix(nbdServerSocket, id),
                List.of(BASE_ALLOCATION, ALLOCATION_DEPTH),
                NbdConnection.Options.DEFAULT)) {
            return map(connection);
        } finally {
            qmp.blockExportDel(id, true);
        }
    }

    /**
     * The allocation map of an image file read through a private {@code qemu-storage-daemon}: the
     * image is opened read-only, exported over NBD on a unix socket in a temporary directory with
     * {@code qemu:allocation-depth}, mapped with {@link #map}, and the daemon is stopped again.
     *
     * @param format the image format, or {@code null} to ask {@code qemu-img info}
     */
    public static AllocationMap viaDaemon(Path image, String format, Duration timeout) throws IOException {
        String driver = format != null ? format : probeFormat(image, timeout);
        Path runtime = java.nio.file.Files.createTempDirectory("thinsr-qsd-");
        try (QemuStorageDaemon daemon = QemuStorageDaemon.builder(runtime)
                .image("image", image, driver, true)
                .nbdServer(0)
                .startTimeout(timeout)
                .start()) {
            daemon.commands().blockExportAddNbd("image", "image", "image", false, true, List.of());
            try (NbdConnection connection = NbdConnection.connect(
                    daemon.nbdUri("image"),
                    List.of(BASE_ALLOCATION, ALLOCATION_DEPTH),
                    new NbdConnection.Options(16, timeout))) {
                return map(connection);
            }
        } finally {
            try (var files = java.nio.file.Files.walk(runtime)) {
                for (Path path :
                        files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    java.nio.file.Files.deleteIfExists(path);
                }
            }
        }
    }

    /** The format {@code qemu-img info} detects for {@code image} ({@code qcow2}, {@code raw}, ...). */
    public static String probeFormat(Path image, Duration timeout) throws IOException {
        com.fasterxml.jackson.databind.JsonNode info = CommandRunner.run(
                List.of(
                        "qemu-img",
                        "info",
                        "-U",
                        "--output=json",
                        image.toAbsolutePath().toString()),
                timeout,
                stdout -> QmpClient.JSON.readTree(stdout));
        com.fasterxml.jackson.databind.JsonNode format = info == null ? null : info.get("format");
        if (format == null || !format.isTextual() || !format.asText().matches("[a-z0-9_-]{1,32}")) {
            throw CorruptInputException.of(
                    "qemu-img info " + image, "format", format, "a format name such as qcow2 or raw");
        }
        return format.asText();
    }

    /**
     * The allocation map of an image file from {@code qemu-img map -U --output=json}: the same
     * answer as {@link #map} over an NBD export of it with both contexts. {@code -U} lets it map an
     * image another process has open; if that process writes meanwhile the map is a blur of both
     * states, as any map of a live image is.
     *
     * @param format the image format ({@code qcow2}, {@code raw}, ...), or {@code null} to probe
     */
    public static AllocationMap fromQemuImgMap(Path image, String format, Duration timeout) throws IOException {
        List<String> command = new ArrayList<>(List.of("qemu-img", "map", "-U", "--output=json"));
        if (format != null) {
            command.addAll(List.of("-f", format));
        }
        command.add(image.toAbsolutePath().toString());
        return CommandRunner.run(command, timeout, stdout -> QemuImgMapParser.parse(stdout, "qemu-img map " + image));
    }
}
