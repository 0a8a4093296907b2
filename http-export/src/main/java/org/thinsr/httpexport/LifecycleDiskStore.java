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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.Attachment;
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
public final class LifecycleDiskStore implements DiskStore, AutoCloseable {
    static final String STAGING_PREFIX = ".import-";

    private final Lifecycle lifecycle;
    private final Optional<SrRef> sr;
    /** How long an attachment stays open after its last request, for the next one. */
    static final long LINGER_MILLIS = 5_000;
    /** How long a resolved VDI name is trusted. */
    static final long RESOLVE_TTL_NANOS = 2_000_000_000L;

    /** VDIs this store attached, shared by concurrent requests (guarded by itself). */
    private final Map<String, Shared> shared = new HashMap<>();

    private final Map<String, Resolved> resolved = new HashMap<>();
    private final ScheduledExecutorService closer = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "thinsr-detach");
        thread.setDaemon(true);
        return thread;
    });

    private record Resolved(VdiView view, long expiresNanos) {}

    public LifecycleDiskStore(Lifecycle lifecycle, Optional<SrRef> sr) {
        this.lifecycle = lifecycle;
        this.sr = sr;
    }

    /**
     * Detaches every VDI this store attached (lingering or not) and stops its timer: call after the
     * server stopped, so no qemu-storage-daemon or device is left behind.
     */
    @Override
    public void close() {
        synchronized (shared) {
            for (Shared entry : List.copyOf(shared.values())) {
                entry.closeNow();
            }
        }
        closer.shutdownNow();
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
        synchronized (resolved) {
            Resolved hit = resolved.get(vdi);
            if (hit != null && hit.expiresNanos() - System.nanoTime() > 0) {
                return hit.view();
            }
        }
        VdiView found = resolveNow(vdi);
        synchronized (resolved) {
            resolved.put(vdi, new Resolved(found, System.nanoTime() + RESOLVE_TTL_NANOS));
        }
        return found;
    }

    private void forget() {
        synchronized (resolved) {
            resolved.clear();
        }
    }

    private VdiView resolveNow(String vdi) {
        return lifecycle.vdiResolve(sr, vdi, STAGING_PREFIX);
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
        forget();
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
        forget();
        closeLingering(disk.uuid());
        return lifecycle.vdiDestroy(sr, disk.uuid());
    }

    @Override
    public ExportView openForExport(String vdi, Optional<String> base) throws IOException {
        VdiView cached = resolve(vdi);
        boolean ours;
        synchronized (shared) {
            ours = shared.containsKey(cached.uuid());
        }
        // attachments change: a cached one is trusted only when it is this store's own
        VdiView disk = cached.attachment() != null && !ours ? resolveNow(cached.uuid()) : cached;
        if (disk.uri() != null) {
            throw new ThinsrException(
                    ErrorCode.VDI_IS_TEMPLATE,
                    "VDI " + disk.uuid() + " is a template (" + disk.uri() + "): clone it to export it");
        }
        Optional<String> baseUuid = base.map(b -> resolve(b).uuid());
        Shared entry = null;
        boolean closedOurs = false;
        synchronized (shared) {
            Shared existing = shared.get(disk.uuid());
            if (existing != null && !existing.writable) {
                entry = existing.use();
            } else if (existing != null && existing.users == 0) {
                existing.closeNow();
                closedOurs = existing.ownAttachment; // else someone else still has it attached
                existing = null;
            }
            if (entry == null && existing == null && (closedOurs || disk.attachment() == null)) {
                entry = new Shared(disk.uuid(), false).use();
                shared.put(disk.uuid(), entry);
            }
        }
        if (entry == null) {
            // In use (attached by someone else, or being written): read a snapshot taken now.
            VdiView snapshot = lifecycle.vdiSnapshot(sr, disk.uuid());
            try {
                AllocationMap map = lifecycle.vdiMap(sr, snapshot.uuid());
                Optional<ExtentSet> changed = baseUuid.map(b -> lifecycle.vdiDelta(sr, snapshot.uuid(), b));
                BlockSource source = Attachments.openSource(lifecycle.vdiAttach(sr, snapshot.uuid(), true));
                String etag = etag(snapshot.uuid(), disk, map, changed);
                return new ReadView(info(disk), source, map, changed, etag, () -> {
                    source.close();
                    lifecycle.vdiDetach(sr, snapshot.uuid());
                    lifecycle.vdiDestroy(sr, snapshot.uuid());
                });
            } catch (IOException | RuntimeException e) {
                discard(snapshot.uuid(), e);
                throw e;
            }
        }
        Shared reader = entry;
        try {
            reader.openForReading(disk);
            Optional<ExtentSet> changed = baseUuid.map(b -> lifecycle.vdiDelta(sr, disk.uuid(), b));
            String etag = changed.isEmpty() ? reader.etag : etag(disk.uuid(), disk, reader.map, changed);
            return new ReadView(info(disk), reader.source, reader.map, changed, etag, reader::release);
        } catch (IOException | RuntimeException e) {
            reader.release();
            throw e;
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
    public ImportTarget beginImport(String vdi, boolean overCurrentContent) throws IOException {
        VdiView target = resolve(vdi);
        closeLingering(target.uuid());
        if (target.readOnly() || target.uri() != null) {
            throw new ThinsrException(
                    ErrorCode.VDI_IS_TEMPLATE, "VDI " + target.uuid() + " is read-only", target.uuid());
        }
        VdiView staging = overCurrentContent
                ? lifecycle.vdiClone(sr, target.uuid(), Optional.of(STAGING_PREFIX + target.uuid()))
                : lifecycle.vdiCreate(
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
                closeLingering(target.uuid());
                lifecycle.vdiReplaceContent(sr, target.uuid(), staging.uuid());
                committed = true;
                forget();
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
        Shared entry;
        synchronized (shared) {
            Shared existing = shared.get(disk.uuid());
            if (existing != null && existing.writable) {
                entry = existing.use();
            } else {
                if (existing != null && existing.users > 0) {
                    throw new ThinsrException(
                            ErrorCode.VDI_IN_USE, "VDI " + disk.uuid() + " is being exported; write when that ends");
                }
                if (existing != null) {
                    existing.closeNow();
                }
                entry = new Shared(disk.uuid(), true).use();
                entry.ownAttachment = disk.attachment() == null;
                shared.put(disk.uuid(), entry);
            }
        }
        Shared writer = entry;
        try {
            writer.openForWriting();
        } catch (IOException | RuntimeException e) {
            writer.release();
            throw e;
        }
        return new WriteHandle() {
            @Override
            public BlockSink sink() {
                return writer.sink;
            }

            @Override
            public Optional<String> nbdTarget() {
                Attachment attachment;
                synchronized (writer) {
                    attachment = writer.attachment;
                }
                return attachment != null && attachment.kind() == Attachment.Kind.NBD
                        ? Optional.of(attachment.target())
                        : Optional.empty();
            }

            @Override
            public void close() {
                writer.release();
            }
        };
    }

    /** Closes an idle shared attachment of {@code uuid} now (before its content is replaced). */
    private void closeLingering(String uuid) {
        synchronized (shared) {
            Shared existing = shared.get(uuid);
            if (existing != null && existing.users == 0) {
                existing.closeNow();
            }
        }
    }

    /**
     * An attachment of a VDI made by this store and shared by requests: read-only with its source,
     * map and ETag, or writable with its sink. Closed {@value #LINGER_MILLIS} ms after its last user,
     * unless reused. Its use count is guarded by {@link #shared}; opening by the entry itself.
     */
    private final class Shared {
        final String uuid;
        final boolean writable;
        boolean ownAttachment = true;
        int users;
        ScheduledFuture<?> pendingClose;
        BlockSource source;
        AllocationMap map;
        String etag;
        BlockSink sink;
        Attachment attachment;

        Shared(String uuid, boolean writable) {
            this.uuid = uuid;
            this.writable = writable;
        }

        Shared use() {
            users++;
            if (pendingClose != null) {
                pendingClose.cancel(false);
                pendingClose = null;
            }
            return this;
        }

        synchronized void openForReading(VdiView disk) throws IOException {
            if (source == null) {
                map = lifecycle.vdiMap(sr, uuid);
                source = Attachments.openSource(lifecycle.vdiAttach(sr, uuid, true));
                etag = etag(uuid, disk, map, Optional.empty());
            }
        }

        synchronized void openForWriting() throws IOException {
            if (sink == null) {
                attachment = lifecycle.vdiAttach(sr, uuid, false);
                sink = Attachments.openSink(attachment);
            }
        }

        void release() {
            synchronized (shared) {
                users--;
                if (users == 0) {
                    pendingClose = closer.schedule(this::closeIfUnused, LINGER_MILLIS, TimeUnit.MILLISECONDS);
                }
            }
        }

        private void closeIfUnused() {
            synchronized (shared) {
                if (users == 0 && shared.get(uuid) == this) {
                    closeNow();
                }
            }
        }

        /** Closes and detaches; called with {@link #shared} held and no users. */
        void closeNow() {
            shared.remove(uuid, this);
            if (pendingClose != null) {
                pendingClose.cancel(false);
                pendingClose = null;
            }
            synchronized (this) {
                try {
                    if (source != null) {
                        source.close();
                    }
                    if (sink != null) {
                        sink.flush();
                        sink.close();
                    }
                } catch (IOException e) {
                    // detached anyway; a failed write or flush was reported to the request that made it
                } finally {
                    source = null;
                    sink = null;
                    attachment = null;
                    if (ownAttachment) {
                        lifecycle.vdiDetach(sr, uuid);
                    }
                }
            }
        }
    }

    /** What closing an export view does. */
    @FunctionalInterface
    private interface Release {
        void run() throws IOException;
    }

    /** An export view; closing it releases the read. */
    private static final class ReadView implements ExportView {
        private final DiskInfo disk;
        private final BlockSource source;
        private final AllocationMap map;
        private final Optional<ExtentSet> changed;
        private final String etag;
        private final Release release;

        ReadView(
                DiskInfo disk,
                BlockSource source,
                AllocationMap map,
                Optional<ExtentSet> changed,
                String etag,
                Release release) {
            this.disk = disk;
            this.source = source;
            this.map = map;
            this.changed = changed;
            this.etag = etag;
            this.release = release;
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
            release.run();
        }
    }
}
