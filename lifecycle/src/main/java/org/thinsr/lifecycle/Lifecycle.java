package org.thinsr.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * The SR and VDI operations of thinsr, over any {@link StorageBackend}: what the CLI commands and
 * the SMAPIv3 plugin call.
 *
 * <p>Every operation on an SR runs under that SR's {@link SrLock} (waiting at most the configured
 * bound, then {@code SR_LOCKED}) and reads and commits the SR's metadata through {@link
 * SrMetadataStore}. Operations that make or remove volumes first commit the volume name as
 * <em>pending</em>, then call the backend, then commit the result and clear the mark in one write;
 * every operation starts by destroying the volumes of pending marks that a crashed process left,
 * so a crash never leaves a half-made VDI.
 *
 * <p>Templates (VDIs named by a URI) allow only introduce, clone, snapshot, forget and reading
 * (stat, list); anything else throws {@code VDI_IS_TEMPLATE}. Idempotent: sr-introduce,
 * sr-forget, sr-destroy of a gone SR, vdi-introduce of a known URI, vdi-forget and vdi-destroy of an
 * unknown VDI, vdi-attach, vdi-detach. Thread-safe.
 */
public final class Lifecycle {
    public static final String KEY_VDI_TYPE = "vdi-type";
    public static final String KEY_IS_A_SNAPSHOT = "is_a_snapshot";
    public static final String KEY_SNAPSHOT_OF = "snapshot_of";
    public static final String KEY_SNAPSHOT_TIME = "snapshot_time";
    public static final String KEY_CONTENT_ID = "content_id";

    private final Backends backends;
    private final UriSchemes schemes;
    private final ThinsrHome home;
    private final CommandRunner runner;
    private final Duration lockWait;
    private final Clock clock;

    public Lifecycle(
            Backends backends,
            UriSchemes schemes,
            ThinsrHome home,
            CommandRunner runner,
            Duration lockWait,
            Clock clock) {
        this.backends = backends;
        this.schemes = schemes;
        this.home = home;
        this.runner = runner;
        this.lockWait = lockWait;
        this.clock = clock;
    }

    public ThinsrHome home() {
        return home;
    }

    public UriSchemes schemes() {
        return schemes;
    }

    // ---- sessions ----

    /** One locked operation on one SR: the backend, the metadata and a way to commit it. */
    private static final class Session {
        final StorageBackend backend;
        final SrInfo sr;
        final SrMetadataStore store;
        SrMetadata metadata;
        long generation;

        Session(StorageBackend backend, SrInfo sr, SrMetadataStore store, SrMetadata metadata, long generation) {
            this.backend = backend;
            this.sr = sr;
            this.store = store;
            this.metadata = metadata;
            this.generation = generation;
        }

        void commit(SrMetadata next) {
            try {
                generation = store.write(next, generation);
            } catch (IOException e) {
                throw FileBackend.ioError("cannot write the metadata of SR " + metadata.uuid(), e);
            }
            metadata = next;
        }

        Set<String> takenNames() {
            Set<String> taken = new HashSet<>(metadata.pendingVolumes().keySet());
            for (VdiRecord vdi : metadata.vdis().values()) {
                if (vdi.volume() != null) {
                    taken.add(vdi.volume());
                }
            }
            for (VolumeInfo volume : backend.listVolumes(sr)) {
                taken.add(volume.name());
            }
            return taken;
        }
    }

    @FunctionalInterface
    private interface Operation<T> {
        T run(Session session);
    }

    private SrInfo introduce(SrRef ref) {
        return backends.forKind(ref.backend()).introduceSr(ref.config());
    }

    private <T> T locked(SrRef ref, Operation<T> operation) {
        StorageBackend backend = backends.forKind(ref.backend());
        SrInfo sr = backend.introduceSr(ref.config());
        return locked(backend, sr, operation);
    }

    @SuppressWarnings("try") // the lock is held for the body, never referenced
    private <T> T locked(StorageBackend backend, SrInfo sr, Operation<T> operation) {
        try (SrLock lock = SrLock.acquire(backend.lockFile(sr), lockWait);
                MetadataArea area = backend.openMetadata(sr)) {
            SrMetadataStore store = new SrMetadataStore(area);
            Optional<SrMetadataStore.Loaded> loaded = store.read();
            Session session;
            if (loaded.isEmpty()) {
                session = new Session(
                        backend, sr, store, SrMetadata.empty(UUID.randomUUID().toString(), "", "", sr), 0);
                session.commit(session.metadata);
            } else {
                session = new Session(
                        backend,
                        sr,
                        store,
                        loaded.get().metadata(),
                        loaded.get().generation());
            }
            recover(session);
            return operation.run(session);
        } catch (IOException e) {
            throw FileBackend.ioError("cannot use the metadata of SR " + sr.location(), e);
        }
    }

    /** Destroys the volumes of operations a crashed process left pending. */
    private static void recover(Session session) {
        if (session.metadata.pendingVolumes().isEmpty()) {
            return;
        }
        SrMetadata next = session.metadata;
        for (String volume : session.metadata.pendingVolumes().keySet()) {
            session.backend.destroyVolume(session.sr, volume);
            next = next.withoutPending(volume);
        }
        session.commit(next);
    }

    private SrRef orDefault(Optional<SrRef> ref) {
        if (ref.isPresent()) {
            return ref.get();
        }
        SrRef fallback = home.defaultSr();
        StorageBackend backend = backends.forKind(fallback.backend());
        try {
            backend.introduceSr(fallback.config());
        } catch (ThinsrException e) {
            if (e.code() != ErrorCode.SR_NOT_FOUND) {
                throw e;
            }
            try {
                SrInfo sr = backend.createSr(fallback.config());
                String uuid = locked(backend, sr, session -> {
                    session.commit(session.metadata.withNameLabel("default"));
                    return session.metadata.uuid();
                });
                home.register(uuid, SrRef.of(sr));
            } catch (ThinsrException raced) {
                if (raced.code() != ErrorCode.SR_EXISTS) {
                    throw raced;
                }
            }
        }
        return fallback;
    }

    // ---- SR operations ----

    private SrView view(Session session, boolean withStat) {
        SrMetadata metadata = session.metadata;
        return new SrView(
                metadata.uuid(),
                metadata.nameLabel(),
                metadata.description(),
                session.sr.backend(),
                session.sr.location(),
                session.sr.configuration(),
                metadata.vdis().size(),
                withStat ? session.backend.statSr(session.sr) : null);
    }

    /**
     * Creates SR storage and its metadata, and registers the SR.
     *
     * @param uuid the SR uuid to use (xapi passes one), or empty for a random one
     * @throws ThinsrException {@code SR_EXISTS}, and what the backend throws
     */
    public SrView srCreate(SrRef ref, Optional<String> uuid, String nameLabel, String description) {
        StorageBackend backend = backends.forKind(ref.backend());
        SrInfo sr = backend.createSr(ref.config());
        String srUuid = uuid.orElseGet(() -> UUID.randomUUID().toString());
        SrView view = locked(backend, sr, session -> {
            session.commit(new SrMetadata(
                    SrMetadata.FORMAT_VERSION,
                    srUuid,
                    nameLabel,
                    description,
                    sr.backend(),
                    sr.configuration(),
                    Map.of(),
                    Map.of()));
            return view(session, true);
        });
        home.register(view.uuid(), SrRef.of(sr));
        return view;
    }

    /** Finds existing SR storage, (re)registers it and returns it. Idempotent. */
    public SrView srIntroduce(SrRef ref) {
        SrView view = locked(ref, session -> view(session, false));
        home.register(view.uuid(), SrRef.of(introduce(ref)));
        return view;
    }

    /** Detaches every VDI and unregisters the SR, keeping all data. Idempotent. */
    public void srForget(SrRef ref) {
        StorageBackend backend = backends.forKind(ref.backend());
        SrInfo sr;
        try {
            sr = backend.introduceSr(ref.config());
        } catch (ThinsrException e) {
            if (e.code() == ErrorCode.SR_NOT_FOUND) {
                return;
            }
            throw e;
        }
        String uuid = locked(backend, sr, session -> {
            detachAll(session);
            return session.metadata.uuid();
        });
        backend.forgetSr(sr);
        home.unregister(uuid);
    }

    /**
     * Destroys the SR with its storage. Refuses with {@code SR_NOT_EMPTY} while VDIs exist unless
     * {@code force}. Idempotent: a gone SR is fine.
     */
    public void srDestroy(SrRef ref, boolean force) {
        StorageBackend backend = backends.forKind(ref.backend());
        SrInfo sr;
        try {
            sr = backend.introduceSr(ref.config());
        } catch (ThinsrException e) {
            if (e.code() == ErrorCode.SR_NOT_FOUND) {
                return;
            }
            throw e;
        }
        String uuid = locked(backend, sr, session -> {
            int count = session.metadata.vdis().size();
            if (count > 0 && !force) {
                throw new ThinsrException(
                        ErrorCode.SR_NOT_EMPTY,
                        "SR " + session.metadata.uuid() + " still has " + count + " VDIs; destroy them or use --force",
                        session.metadata.uuid(),
                        Integer.toString(count));
            }
            detachAll(session);
            return session.metadata.uuid();
        });
        backend.destroySr(sr);
        home.unregister(uuid);
    }

    private void detachAll(Session session) {
        Set<String> uris = new HashSet<>();
        for (VdiRecord vdi : session.metadata.vdis().values()) {
            if (vdi.volume() != null
                    && session.backend.attachment(session.sr, vdi.volume()).isPresent()) {
                session.backend.detach(session.sr, vdi.volume());
                if (vdi.parentUri() != null) {
                    uris.add(vdi.parentUri());
                }
            }
        }
        for (String uri : uris) {
            schemes.detach(uri);
        }
    }

    /** Every SR registered on this host, with figures where the SR can be read. */
    public List<SrView> srList() {
        List<SrView> views = new ArrayList<>();
        for (ThinsrHome.Entry entry : home.registered()) {
            SrRef ref = new SrRef(entry.backend(), new SrConfig(entry.configuration()));
            try {
                views.add(locked(ref, session -> view(session, false)));
            } catch (ThinsrException e) {
                views.add(new SrView(
                        entry.uuid(),
                        "",
                        "unavailable: " + e.getMessage(),
                        entry.backend(),
                        ref.text(),
                        entry.configuration(),
                        0,
                        null));
            }
        }
        return views;
    }

    /** The SR with its space figures. */
    public SrView srStat(Optional<SrRef> ref) {
        return locked(orDefault(ref), session -> view(session, true));
    }

    /** Sets the SR's name label and/or description. */
    public SrView srSet(Optional<SrRef> ref, Optional<String> nameLabel, Optional<String> description) {
        return locked(orDefault(ref), session -> {
            SrMetadata next = session.metadata;
            if (nameLabel.isPresent()) {
                next = next.withNameLabel(nameLabel.get());
            }
            if (description.isPresent()) {
                next = next.withDescription(description.get());
            }
            session.commit(next);
            return view(session, false);
        });
    }

    /**
     * What is at {@code ref}: an empty list when there is no thinsr SR, else the SR. Does not
     * register it.
     */
    public List<SrView> srProbe(SrRef ref) {
        try {
            SrView view = locked(ref, session -> view(session, true));
            return List.of(view);
        } catch (ThinsrException e) {
            if (e.code() == ErrorCode.SR_NOT_FOUND) {
                return List.of();
            }
            throw e;
        }
    }

    // ---- VDI operations ----

    private static VdiRecord disk(Session session, String vdiUuid) {
        VdiRecord vdi = session.metadata.vdi(vdiUuid);
        if (vdi.isTemplate()) {
            throw new ThinsrException(
                    ErrorCode.VDI_IS_TEMPLATE,
                    "VDI " + vdiUuid + " is a read-only template (" + vdi.uri()
                            + "); only introduce, clone, snapshot and forget are allowed",
                    vdiUuid);
        }
        return vdi;
    }

    private static VdiView viewOf(Session session, VdiRecord vdi) {
        if (vdi.isTemplate()) {
            return VdiView.of(vdi, null, null);
        }
        return VdiView.of(
                vdi,
                session.backend.statVolume(session.sr, vdi.volume()),
                session.backend.attachment(session.sr, vdi.volume()).orElse(null));
    }

    /**
     * Creates an empty disk named after {@code nameLabel}.
     *
     * @param progress progress and cancellation for a preallocated disk
     */
    public VdiView vdiCreate(
            Optional<SrRef> ref,
            String nameLabel,
            String description,
            long virtualSizeBytes,
            Provisioning provisioning,
            Map<String, String> keys,
            Progress progress) {
        return locked(orDefault(ref), session -> {
            String volume = VolumeNames.unique(nameLabel, session.takenNames()::contains);
            VolumeInfo info = pendingThen(
                    session,
                    volume,
                    "vdi-create",
                    () -> session.backend.createVolume(
                            session.sr, volume, virtualSizeBytes, provisioning, Optional.empty(), progress));
            VdiRecord vdi = new VdiRecord(
                    UUID.randomUUID().toString(),
                    VdiKind.DISK,
                    nameLabel,
                    description,
                    volume,
                    null,
                    null,
                    null,
                    info.virtualSizeBytes(),
                    provisioning,
                    false,
                    keys);
            finish(session, volume, vdi, "vdi-create");
            return viewOf(session, vdi);
        });
    }

    @FunctionalInterface
    private interface BackendCall {
        VolumeInfo run();
    }

    /** Marks {@code volume} pending, runs the backend call, and on failure undoes and clears the mark. */
    private static VolumeInfo pendingThen(Session session, String volume, String operation, BackendCall call) {
        session.commit(session.metadata.withPending(volume, operation));
        CrashPoints.reach(operation, CrashPoints.AFTER_INTENT);
        VolumeInfo info;
        try {
            info = call.run();
        } catch (RuntimeException e) {
            try {
                session.backend.destroyVolume(session.sr, volume);
                session.commit(session.metadata.withoutPending(volume));
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        CrashPoints.reach(operation, CrashPoints.AFTER_BACKEND);
        return info;
    }

    private static void finish(Session session, String volume, VdiRecord vdi, String operation) {
        session.commit(session.metadata.withVdi(vdi).withoutPending(volume));
        CrashPoints.reach(operation, "after-commit");
    }

    /** Destroys a disk; {@code false} when no such VDI exists (idempotent). */
    public boolean vdiDestroy(Optional<SrRef> ref, String vdiUuid) {
        return locked(orDefault(ref), session -> {
            if (!session.metadata.vdis().containsKey(vdiUuid)) {
                return false;
            }
            VdiRecord vdi = disk(session, vdiUuid);
            detachVdi(session, vdi);
            session.commit(session.metadata.withoutVdi(vdiUuid).withPending(vdi.volume(), "vdi-destroy"));
            CrashPoints.reach("vdi-destroy", CrashPoints.AFTER_INTENT);
            session.backend.destroyVolume(session.sr, vdi.volume());
            session.commit(session.metadata.withoutPending(vdi.volume()));
            return true;
        });
    }

    private String now() {
        return DateTimeFormatter.ISO_INSTANT.format(clock.instant().truncatedTo(ChronoUnit.SECONDS));
    }

    /**
     * A read-only point-in-time copy. Of a disk: a backend snapshot. Of a template: another template
     * record of the same URI. The new VDI gets xapi's keys {@code is_a_snapshot=true}, {@code
     * snapshot_of}, {@code snapshot_time} (RFC 3339, UTC) and the source's {@code vdi-type}.
     */
    public VdiView vdiSnapshot(Optional<SrRef> ref, String vdiUuid) {
        return locked(orDefault(ref), session -> {
            VdiRecord source = session.metadata.vdi(vdiUuid);
            Map<String, String> keys = new HashMap<>();
            if (source.keys().containsKey(KEY_VDI_TYPE)) {
                keys.put(KEY_VDI_TYPE, source.keys().get(KEY_VDI_TYPE));
            }
            keys.put(KEY_IS_A_SNAPSHOT, "true");
            keys.put(KEY_SNAPSHOT_OF, vdiUuid);
            keys.put(KEY_SNAPSHOT_TIME, now());
            String uuid = UUID.randomUUID().toString();
            if (source.isTemplate()) {
                VdiRecord copy = new VdiRecord(
                        uuid,
                        VdiKind.TEMPLATE,
                        source.nameLabel(),
                        source.description(),
                        null,
                        source.uri(),
                        null,
                        source.originFormat(),
                        source.virtualSizeBytes(),
                        null,
                        true,
                        keys);
                session.commit(session.metadata.withVdi(copy));
                return viewOf(session, copy);
            }
            String volume = VolumeNames.unique(source.nameLabel() + "-snap", session.takenNames()::contains);
            VolumeInfo info = pendingThen(
                    session,
                    volume,
                    "vdi-snapshot",
                    () -> session.backend.snapshot(session.sr, source.volume(), volume));
            VdiRecord copy = new VdiRecord(
                    uuid,
                    VdiKind.DISK,
                    source.nameLabel(),
                    source.description(),
                    volume,
                    null,
                    source.parentUri(),
                    source.originFormat(),
                    info.virtualSizeBytes(),
                    source.provisioning(),
                    true,
                    keys);
            finish(session, volume, copy, "vdi-snapshot");
            return viewOf(session, copy);
        });
    }

    /**
     * A writable copy. Of a disk: a backend clone. Of a template: a thin disk whose external origin
     * (backing file) is the template.
     */
    public VdiView vdiClone(Optional<SrRef> ref, String vdiUuid, Optional<String> nameLabel) {
        return locked(orDefault(ref), session -> {
            VdiRecord source = session.metadata.vdi(vdiUuid);
            String label = nameLabel.orElse(source.nameLabel());
            Map<String, String> keys = new HashMap<>();
            if (source.keys().containsKey(KEY_VDI_TYPE)) {
                keys.put(KEY_VDI_TYPE, source.keys().get(KEY_VDI_TYPE));
            }
            String volume = VolumeNames.unique(label, session.takenNames()::contains);
            VdiRecord copy;
            if (source.isTemplate()) {
                Origin origin = resolve(source.uri(), source.originFormat(), source.virtualSizeBytes());
                try {
                    VolumeInfo info = pendingThen(
                            session,
                            volume,
                            "vdi-clone",
                            () -> session.backend.createVolume(
                                    session.sr,
                                    volume,
                                    Math.max(source.virtualSizeBytes(), 512),
                                    Provisioning.THIN,
                                    Optional.of(origin),
                                    Progress.NONE));
                    copy = new VdiRecord(
                            UUID.randomUUID().toString(),
                            VdiKind.DISK,
                            label,
                            source.description(),
                            volume,
                            null,
                            source.uri(),
                            source.originFormat(),
                            info.virtualSizeBytes(),
                            Provisioning.THIN,
                            false,
                            keys);
                } finally {
                    releaseUnlessUsed(session, source.uri());
                }
            } else {
                VolumeInfo info = pendingThen(
                        session, volume, "vdi-clone", () -> session.backend.clone(session.sr, source.volume(), volume));
                copy = new VdiRecord(
                        UUID.randomUUID().toString(),
                        VdiKind.DISK,
                        label,
                        source.description(),
                        volume,
                        null,
                        source.parentUri(),
                        source.originFormat(),
                        info.virtualSizeBytes(),
                        Provisioning.THIN,
                        false,
                        keys);
            }
            finish(session, volume, copy, "vdi-clone");
            return viewOf(session, copy);
        });
    }

    /** Grows a disk; {@code VDI_SHRINK_REFUSED} when smaller than now. */
    public VdiView vdiResize(Optional<SrRef> ref, String vdiUuid, long newVirtualSizeBytes) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = disk(session, vdiUuid);
            if (newVirtualSizeBytes < vdi.virtualSizeBytes()) {
                throw new ThinsrException(
                        ErrorCode.VDI_SHRINK_REFUSED,
                        "VDI " + vdiUuid + " is " + vdi.virtualSizeBytes() + " bytes; shrinking to "
                                + newVirtualSizeBytes + " is refused",
                        vdiUuid,
                        Long.toString(vdi.virtualSizeBytes()),
                        Long.toString(newVirtualSizeBytes));
            }
            VolumeInfo info = session.backend.resize(session.sr, vdi.volume(), newVirtualSizeBytes);
            VdiRecord next = vdi.withVirtualSize(info.virtualSizeBytes());
            session.commit(session.metadata.withVdi(next));
            return viewOf(session, next);
        });
    }

    /**
     * Registers a read-only template image by URI; returns the existing template when the URI is
     * already known (idempotent). Probes format and size with {@code qemu-img info}.
     */
    public VdiView vdiIntroduce(Optional<SrRef> ref, String uri, String nameLabel, String description) {
        schemes.parse(uri);
        return locked(orDefault(ref), session -> {
            for (VdiRecord vdi : session.metadata.vdis().values()) {
                if (vdi.isTemplate()
                        && vdi.uri().equals(uri)
                        && !"true".equals(vdi.keys().get(KEY_IS_A_SNAPSHOT))) {
                    return viewOf(session, vdi);
                }
            }
            String location = schemes.attach(uri);
            JsonNode info;
            try {
                info = imageInfo(location);
            } finally {
                releaseUnlessUsed(session, uri);
            }
            String format = info.path("format").asText("");
            if (!Origin.FORMATS.contains(format)) {
                throw new ThinsrException(
                        ErrorCode.UNSUPPORTED,
                        "template " + uri + " is in format '" + format + "'; supported: " + Origin.FORMATS,
                        uri,
                        format);
            }
            long size = info.path("virtual-size").asLong(-1);
            if (size < 0) {
                throw new ThinsrException(ErrorCode.TOOL_FAILED, "qemu-img info gave no virtual size for " + uri, uri);
            }
            String label = nameLabel.isEmpty() ? lastSegment(uri) : nameLabel;
            VdiRecord vdi = new VdiRecord(
                    UUID.randomUUID().toString(),
                    VdiKind.TEMPLATE,
                    label,
                    description,
                    null,
                    uri,
                    null,
                    format,
                    size,
                    null,
                    true,
                    Map.of());
            session.commit(session.metadata.withVdi(vdi));
            return viewOf(session, vdi);
        });
    }

    private static String lastSegment(String uri) {
        String trimmed = uri.replaceAll("[?#].*$", "");
        int slash = trimmed.lastIndexOf('/');
        String last = slash >= 0 ? trimmed.substring(slash + 1) : trimmed;
        return last.length() > 256 ? last.substring(0, 256) : last;
    }

    private JsonNode imageInfo(String location) {
        String json = runner.check(List.of("qemu-img", "info", "-U", "--output=json", location), Duration.ofMinutes(2));
        try {
            return SrMetadataStore.JSON.readTree(json);
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, "qemu-img info printed invalid JSON for " + location, e);
        }
    }

    /** Deregisters a template; disks cloned from it keep their origin URI. Idempotent. */
    public boolean vdiForget(Optional<SrRef> ref, String vdiUuid) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = session.metadata.vdis().get(vdiUuid);
            if (vdi == null) {
                return false;
            }
            if (!vdi.isTemplate()) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "VDI " + vdiUuid + " is a disk, not a template; use vdi-destroy",
                        vdiUuid);
            }
            session.commit(session.metadata.withoutVdi(vdiUuid));
            return true;
        });
    }

    /** Every VDI of the SR, by uuid. */
    public List<VdiView> vdiList(Optional<SrRef> ref) {
        return locked(orDefault(ref), session -> {
            List<VdiView> views = new ArrayList<>();
            for (VdiRecord vdi : session.metadata.vdis().values()) {
                views.add(viewOf(session, vdi));
            }
            return views;
        });
    }

    /**
     * The VDI named by {@code uuidOrLabel}: its uuid, or a name label that matches exactly one VDI
     * (a disk over its snapshots, which keep the label). Labels starting with {@code hiddenPrefix}
     * (staging copies) are never matched by label.
     *
     * @throws ThinsrException {@code VDI_NOT_FOUND}, or {@code INVALID_ARGUMENT} when the label is
     *     ambiguous
     */
    public VdiView vdiResolve(Optional<SrRef> ref, String uuidOrLabel, String hiddenPrefix) {
        List<VdiView> byLabel = new ArrayList<>();
        for (VdiView candidate : vdiList(ref)) {
            if (candidate.uuid().equals(uuidOrLabel)) {
                return candidate;
            }
            if (candidate.nameLabel().equals(uuidOrLabel) && !uuidOrLabel.startsWith(hiddenPrefix)) {
                byLabel.add(candidate);
            }
        }
        if (byLabel.size() > 1) {
            List<VdiView> disks = new ArrayList<>();
            for (VdiView candidate : byLabel) {
                if (!"true".equals(candidate.keys().get(KEY_IS_A_SNAPSHOT))) {
                    disks.add(candidate);
                }
            }
            if (disks.size() == 1) {
                return disks.get(0);
            }
        }
        if (byLabel.size() == 1) {
            return byLabel.get(0);
        }
        if (byLabel.isEmpty()) {
            throw new ThinsrException(
                    ErrorCode.VDI_NOT_FOUND, "no VDI with uuid or name label '" + uuidOrLabel + "'", uuidOrLabel);
        }
        throw new ThinsrException(
                ErrorCode.INVALID_ARGUMENT,
                "name label '" + uuidOrLabel + "' matches " + byLabel.size() + " VDIs; name it by uuid",
                uuidOrLabel);
    }

    /** One VDI. */
    public VdiView vdiStat(Optional<SrRef> ref, String vdiUuid) {
        return locked(orDefault(ref), session -> viewOf(session, session.metadata.vdi(vdiUuid)));
    }

    /**
     * Sets a disk's name label, description and keys, and removes keys. Refused for templates.
     *
     * @param setKeys keys to add or replace (including xapi's {@code vdi-type}, {@code content_id},
     *     {@code is_a_snapshot}, {@code snapshot_of}, {@code snapshot_time})
     * @param unsetKeys keys to remove; absent keys are fine
     */
    public VdiView vdiSet(
            Optional<SrRef> ref,
            String vdiUuid,
            Optional<String> nameLabel,
            Optional<String> description,
            Map<String, String> setKeys,
            Set<String> unsetKeys) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = disk(session, vdiUuid);
            if (nameLabel.isPresent()) {
                vdi = vdi.withNameLabel(nameLabel.get());
            }
            if (description.isPresent()) {
                vdi = vdi.withDescription(description.get());
            }
            Map<String, String> keys = new HashMap<>(vdi.keys());
            keys.putAll(setKeys);
            keys.keySet().removeAll(unsetKeys);
            vdi = vdi.withKeys(keys);
            session.commit(session.metadata.withVdi(vdi));
            return viewOf(session, vdi);
        });
    }

    /** Attaches a disk (its template origin first, through the URI scheme). Idempotent. */
    public Attachment vdiAttach(Optional<SrRef> ref, String vdiUuid, boolean readOnly) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = disk(session, vdiUuid);
            Optional<Attachment> existing = session.backend.attachment(session.sr, vdi.volume());
            if (existing.isPresent()) {
                return existing.get();
            }
            Optional<Origin> origin = Optional.empty();
            if (vdi.parentUri() != null) {
                origin = Optional.of(resolve(vdi.parentUri(), vdi.originFormat(), 0));
            }
            try {
                return session.backend.attach(session.sr, vdi.volume(), origin, readOnly || vdi.readOnly());
            } catch (RuntimeException e) {
                if (vdi.parentUri() != null) {
                    releaseUnlessUsed(session, vdi.parentUri());
                }
                throw e;
            }
        });
    }

    /**
     * A reader of a disk attached read-only, straight from its backend's files instead of through
     * its attachment ({@link StorageBackend#openDirect}); empty when the disk is not attached
     * read-only or the backend has no such path. The caller closes it before detaching the disk.
     */
    public Optional<BlockSource> vdiOpenDirect(Optional<SrRef> ref, String vdiUuid) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = disk(session, vdiUuid);
            try {
                return session.backend.openDirect(session.sr, vdi.volume());
            } catch (IOException e) {
                throw new ThinsrException(ErrorCode.IO_ERROR, "cannot read " + vdiUuid + " from its files: " + e, e);
            }
        });
    }

    /**
     * The QMP monitor of the qemu process serving an attached disk (file SRs: its {@code
     * qemu-storage-daemon}); empty when the disk is not attached or not served by qemu.
     */
    public Optional<QemuMonitor> vdiMonitor(Optional<SrRef> ref, String vdiUuid) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = disk(session, vdiUuid);
            return session.backend.monitor(session.sr, vdi.volume());
        });
    }

    /** Detaches a disk and, when no other attached disk needs it, its template origin. Idempotent. */
    public void vdiDetach(Optional<SrRef> ref, String vdiUuid) {
        locked(orDefault(ref), session -> {
            detachVdi(session, disk(session, vdiUuid));
            return null;
        });
    }

    private void detachVdi(Session session, VdiRecord vdi) {
        session.backend.detach(session.sr, vdi.volume());
        if (vdi.parentUri() != null) {
            releaseUnlessUsed(session, vdi.parentUri());
        }
    }

    /** The allocation map of a disk (its template origin resolved for the time of the call). */
    public AllocationMap vdiMap(Optional<SrRef> ref, String vdiUuid) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = disk(session, vdiUuid);
            return withOrigin(session, vdi, () -> session.backend.allocationMap(session.sr, vdi.volume()));
        });
    }

    /** The byte ranges where a disk may differ from {@code baseUuid} (typically its snapshot). */
    public ExtentSet vdiDelta(Optional<SrRef> ref, String vdiUuid, String baseUuid) {
        return locked(orDefault(ref), session -> {
            VdiRecord vdi = disk(session, vdiUuid);
            VdiRecord base = disk(session, baseUuid);
            return withOrigin(
                    session,
                    vdi,
                    () -> withOrigin(
                            session, base, () -> session.backend.delta(session.sr, vdi.volume(), base.volume())));
        });
    }

    @FunctionalInterface
    private interface Call<T> {
        T run();
    }

    private <T> T withOrigin(Session session, VdiRecord vdi, Call<T> call) {
        if (vdi.parentUri() == null) {
            return call.run();
        }
        schemes.attach(vdi.parentUri());
        try {
            return call.run();
        } finally {
            releaseUnlessUsed(session, vdi.parentUri());
        }
    }

    private Origin resolve(String uri, String format, long sizeBytes) {
        return new Origin(schemes.attach(uri), format == null ? "raw" : format, sizeBytes);
    }

    /** Detaches a template URI unless an attached disk still reads from it. */
    private void releaseUnlessUsed(Session session, String uri) {
        for (VdiRecord vdi : session.metadata.vdis().values()) {
            if (uri.equals(vdi.parentUri())
                    && session.backend.attachment(session.sr, vdi.volume()).isPresent()) {
                return;
            }
        }
        schemes.detach(uri);
    }

    // ---- imports ----

    /**
     * Replaces the content of disk {@code targetUuid} with that of disk {@code stagingUuid}, an
     * import's staging VDI, in one metadata commit: the target keeps its uuid, name label,
     * description and keys but now names the staging volume; the staging record goes; the target's
     * old volume is then destroyed (marked pending first, so a crash destroys it on the next
     * operation). A crash leaves the old content or the new, never a mix. Both must be disks of this
     * SR; both are detached first; the staging disk's virtual size must equal the target's.
     *
     * @throws ThinsrException {@code VDI_NOT_FOUND}, {@code VDI_IS_TEMPLATE}, {@code
     *     INVALID_ARGUMENT} when the sizes differ
     */
    public VdiView vdiReplaceContent(Optional<SrRef> ref, String targetUuid, String stagingUuid) {
        return locked(orDefault(ref), session -> {
            VdiRecord target = disk(session, targetUuid);
            VdiRecord staging = disk(session, stagingUuid);
            if (staging.virtualSizeBytes() != target.virtualSizeBytes()) {
                throw new ThinsrException(
                        ErrorCode.INVALID_ARGUMENT,
                        "staging VDI " + stagingUuid + " has " + staging.virtualSizeBytes() + " bytes, the target "
                                + targetUuid + " " + target.virtualSizeBytes());
            }
            detachVdi(session, target);
            detachVdi(session, staging);
            VdiRecord replaced = new VdiRecord(
                    target.uuid(),
                    target.kind(),
                    target.nameLabel(),
                    target.description(),
                    staging.volume(),
                    target.uri(),
                    staging.parentUri(),
                    staging.originFormat(),
                    staging.virtualSizeBytes(),
                    staging.provisioning(),
                    target.readOnly(),
                    target.keys());
            session.commit(session.metadata
                    .withoutVdi(stagingUuid)
                    .withVdi(replaced)
                    .withPending(target.volume(), "vdi-replace"));
            CrashPoints.reach("vdi-replace", CrashPoints.AFTER_INTENT);
            session.backend.destroyVolume(session.sr, target.volume());
            session.commit(session.metadata.withoutPending(target.volume()));
            return viewOf(session, replaced);
        });
    }
}
