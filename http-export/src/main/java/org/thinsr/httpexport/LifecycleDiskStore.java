package org.thinsr.httpexport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.Attachments;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.Progress;
import org.thinsr.lifecycle.Provisioning;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.VdiView;

/**
 * The HTTP service's view of a real SR, through {@link Lifecycle}.
 *
 * <ul>
 *   <li>Exports of an idle VDI read it directly, attached read-only (shared by concurrent exports,
 *       detached by the last one). A VDI attached by someone else is in use: its export reads a
 *       snapshot taken for the request, destroyed when the export ends.
 *   <li>Whole-disk imports write into a fresh staging VDI (label {@value #STAGING_PREFIX}…, hidden
 *       from listings) and {@link Lifecycle#vdiReplaceContent} swaps it in on commit; a failed or
 *       abandoned import destroys the staging VDI and leaves the target as it was.
 *   <li>Random-access writes go to the VDI itself, attached read-write (and detached afterwards
 *       only if this store attached it).
 * </ul>
 *
 * VDIs are named by uuid, or by a name label that matches exactly one VDI.
 */
public final class LifecycleDiskStore implements DiskStore {
    static final String STAGING_PREFIX = ".import-";

    private final Lifecycle lifecycle;
    private final Optional<SrRef> sr;
    /** VDIs this store attached read-only for exports, with their number of open readers. */
    private final Map<String, Integer> readers = new HashMap<>();

    public LifecycleDiskStore(Lifecycle lifecycle, Optional<SrRef> sr) {
        this.lifecycle = lifecycle;
        this.sr = sr;
    }

    @Override
    public List<DiskInfo> list() {
        List<DiskInfo> disks = new ArrayList<>();
        for (VdiView vdi : lifecycle.vdiList(sr)) {
            if (!vdi.nameLabel().startsWith(STAGING_PREFIX)) {
                disks.add(info(vdi));
            }
        }
        return disks;
    }

    private static DiskInfo info(VdiView vdi) {
        return new DiskInfo(vdi.uuid(), vdi.nameLabel(), vdi.virtualSizeBytes(), vdi.readOnly() || vdi.uri() != null);
    }

    private VdiView resolve(String vdi) {
        List<VdiView> byLabel = new ArrayList<>();
        for (VdiView candidate : lifecycle.vdiList(sr)) {
            if (candidate.uuid().equals(vdi)) {
                return candidate;
            }
            if (candidate.nameLabel().equals(vdi) && !vdi.startsWith(STAGING_PREFIX)) {
                byLabel.add(candidate);
            }
        }
        if (byLabel.size() == 1) {
            return byLabel.get(0);
        }
        if (byLabel.isEmpty()) {
            throw new ThinsrException(ErrorCode.VDI_NOT_FOUND, "no VDI with uuid or name label '" + vdi + "'", vdi);
        }
        throw new ThinsrException(
                ErrorCode.INVALID_ARGUMENT,
                "name label '" + vdi + "' matches " + byLabel.size() + " VDIs; name it by uuid",
                vdi);
    }

    @Override
    public DiskInfo find(String vdi) {
        return info(resolve(vdi));
    }

    @Override
    public DiskInfo create(String nameLabel, long virtualSize) {
        if (nameLabel.startsWith(STAGING_PREFIX)) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT, "name labels starting with '" + STAGING_PREFIX + "' are reserved");
        }
        return info(lifecycle.vdiCreate(sr, nameLabel, "", virtualSize, Provisioning.THIN, Map.of(), Progress.NONE));
    }

    @Override
    public boolean destroy(String vdi) {
        VdiView disk;
        try {
            disk = resolve(vdi);
        } catch (ThinsrException e) {
            if (e.code() == ErrorCode.VDI_NOT_FOUND) {
                return false;
            }
            throw e;
        }
        if (disk.uri() != null) {
            throw new ThinsrException(
                    ErrorCode.VDI_IS_TEMPLATE, "VDI " + disk.uuid() + " is a template: forget it with vdi-forget");
        }
        return lifecycle.vdiDestroy(sr, disk.uuid());
    }

    @Override
    public ExportView openForExport(String vdi, Optional<String> base) throws IOException {
        VdiView disk = resolve(vdi);
        if (disk.uri() != null) {
            throw new ThinsrException(
                    ErrorCode.VDI_IS_TEMPLATE,
                    "VDI " + disk.uuid() + " is a template (" + disk.uri() + "): clone it to export it");
        }
        Optional<String> baseUuid = base.map(b -> resolve(b).uuid());
        boolean idle;
        synchronized (readers) {
            idle = disk.attachment() == null || readers.containsKey(disk.uuid());
            if (idle) {
                readers.merge(disk.uuid(), 1, Integer::sum);
            }
        }
        if (idle) {
            return openView(disk, disk.uuid(), baseUuid, false);
        }
        // In use (attached by someone else): read a snapshot taken now, so the export is consistent.
        VdiView snapshot = lifecycle.vdiSnapshot(sr, disk.uuid());
        return openView(disk, snapshot.uuid(), baseUuid, true);
    }

    /** Opens {@code readUuid} (the disk itself, or a snapshot of it) read-only for export. */
    private ExportView openView(VdiView disk, String readUuid, Optional<String> baseUuid, boolean snapshot)
            throws IOException {
        BlockSource source = null;
        try {
            AllocationMap map = lifecycle.vdiMap(sr, readUuid);
            Optional<ExtentSet> changed = baseUuid.map(b -> lifecycle.vdiDelta(sr, readUuid, b));
            source = Attachments.openSource(lifecycle.vdiAttach(sr, readUuid, true));
            String etag = etag(snapshot ? readUuid : disk.uuid(), disk, map, changed);
            return new ReadView(info(disk), source, map, changed, etag, readUuid, snapshot);
        } catch (IOException | RuntimeException e) {
            if (source != null) {
                source.close();
            }
            release(readUuid, snapshot, e);
            throw e;
        }
    }

    /** Ends a read: a snapshot is detached and destroyed; the disk is detached by its last reader. */
    private void release(String readUuid, boolean snapshot, Exception failure) {
        try {
            if (snapshot) {
                lifecycle.vdiDetach(sr, readUuid);
                lifecycle.vdiDestroy(sr, readUuid);
                return;
            }
            synchronized (readers) {
                int left = readers.merge(readUuid, -1, Integer::sum);
                if (left <= 0) {
                    readers.remove(readUuid);
                    lifecycle.vdiDetach(sr, readUuid);
                }
            }
        } catch (RuntimeException cleanup) {
            if (failure == null) {
                throw cleanup;
            }
            failure.addSuppressed(cleanup);
        }
    }

    private void discard(String vdiUuid, Exception failure) {
        // staging VDIs of failed imports
        try {
            lifecycle.vdiDetach(sr, vdiUuid);
            lifecycle.vdiDestroy(sr, vdiUuid);
        } catch (RuntimeException cleanup) {
            failure.addSuppressed(cleanup);
        }
    }

    /**
     * A validator of the content: what is read (the disk, or a snapshot made for this request), its
     * map and delta, and for file volumes the file's size and modification time. Stable across
     * requests while nobody writes the disk, so Range requests and resumed downloads line up.
     */
    private static String etag(String readUuid, VdiView disk, AllocationMap map, Optional<ExtentSet> changed)
            throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        digest.update(readUuid.getBytes(StandardCharsets.UTF_8));
        digest.update(map.toString().getBytes(StandardCharsets.UTF_8));
        digest.update(Integer.toHexString(map.hashCode()).getBytes(StandardCharsets.UTF_8));
        changed.ifPresent(
                set -> digest.update(Integer.toHexString(set.hashCode()).getBytes(StandardCharsets.UTF_8)));
        if (disk.path() != null) {
            Path path = Path.of(disk.path());
            if (Files.isRegularFile(path)) {
                digest.update((Files.size(path) + "@"
                                + Files.getLastModifiedTime(path).toMillis())
                        .getBytes(StandardCharsets.UTF_8));
            }
        }
        return HexFormat.of().formatHex(digest.digest(), 0, 12);
    }

    @Override
    public ImportTarget beginImport(String vdi) throws IOException {
        VdiView target = resolve(vdi);
        if (target.readOnly() || target.uri() != null) {
            throw new ThinsrException(
                    ErrorCode.VDI_IS_TEMPLATE, "VDI " + target.uuid() + " is read-only", target.uuid());
        }
        VdiView staging = lifecycle.vdiCreate(
                sr,
                STAGING_PREFIX + target.uuid(),
                "staging of an import into " + target.uuid(),
                target.virtualSizeBytes(),
                Provisioning.THIN,
                Map.of(),
                Progress.NONE);
        BlockSink sink;
        try {
            sink = Attachments.openSink(lifecycle.vdiAttach(sr, staging.uuid(), false));
        } catch (IOException | RuntimeException e) {
            discard(staging.uuid(), e);
            throw e;
        }
        return new ImportTarget() {
            private boolean committed;
            private boolean closed;

            @Override
            public BlockSink sink() {
                return sink;
            }

            @Override
            public void commit() throws IOException {
                sink.flush();
                sink.close();
                closed = true;
                lifecycle.vdiReplaceContent(sr, target.uuid(), staging.uuid());
                committed = true;
            }

            @Override
            public void close() throws IOException {
                if (!closed) {
                    closed = true;
                    sink.close();
                }
                if (!committed) {
                    lifecycle.vdiDetach(sr, staging.uuid());
                    lifecycle.vdiDestroy(sr, staging.uuid());
                }
            }
        };
    }

    @Override
    public WriteHandle openForWrite(String vdi) throws IOException {
        VdiView disk = resolve(vdi);
        if (disk.readOnly() || disk.uri() != null) {
            throw new ThinsrException(ErrorCode.VDI_IS_TEMPLATE, "VDI " + disk.uuid() + " is read-only", disk.uuid());
        }
        boolean wasAttached = disk.attachment() != null;
        BlockSink sink = Attachments.openSink(lifecycle.vdiAttach(sr, disk.uuid(), false));
        return new WriteHandle() {
            @Override
            public BlockSink sink() {
                return sink;
            }

            @Override
            public void close() throws IOException {
                try {
                    sink.close();
                } finally {
                    if (!wasAttached) {
                        lifecycle.vdiDetach(sr, disk.uuid());
                    }
                }
            }
        };
    }

    /** An export view; closing it releases the read (see {@link #release}). */
    private final class ReadView implements ExportView {
        private final DiskInfo disk;
        private final BlockSource source;
        private final AllocationMap map;
        private final Optional<ExtentSet> changed;
        private final String etag;
        private final String readUuid;
        private final boolean snapshot;

        ReadView(
                DiskInfo disk,
                BlockSource source,
                AllocationMap map,
                Optional<ExtentSet> changed,
                String etag,
                String readUuid,
                boolean snapshot) {
            this.disk = disk;
            this.source = source;
            this.map = map;
            this.changed = changed;
            this.etag = etag;
            this.readUuid = readUuid;
            this.snapshot = snapshot;
        }

        @Override
        public DiskInfo disk() {
            return disk;
        }

        @Override
        public BlockSource source() {
            return source;
        }

        @Override
        public AllocationMap map() {
            return map;
        }

        @Override
        public Optional<ExtentSet> changed() {
            return changed;
        }

        @Override
        public String etag() {
            return etag;
        }

        @Override
        public void close() throws IOException {
            try {
                source.close();
            } finally {
                release(readUuid, snapshot, null);
            }
        }
    }
}
