package org.thinsr.lifecycle;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * The storage primitives of one kind of SR: where volumes live and how they are made, copied,
 * grown, exposed and mapped. The {@code lifecycle} layer above it owns everything else — VDI uuids,
 * name labels, templates, keys, the metadata store's format and the per-SR lock — and calls a
 * backend only while it holds that SR's lock, so implementations need not be thread-safe for
 * concurrent calls on the same SR. Calls on different SRs may run concurrently.
 *
 * <h2>Values and units</h2>
 *
 * <ul>
 *   <li>An SR is named by the {@link SrInfo} that {@link #createSr} or {@link #introduceSr} returned
 *       (or one rebuilt from the same {@link SrInfo#location()} and configuration).
 *   <li>A volume is named by its <em>volume name</em>: the file stem or LV name chosen by the
 *       caller with {@code VolumeNames}. Valid names match {@code [A-Za-z0-9+_][A-Za-z0-9+_.-]{0,63}}
 *       ({@link VolumeNames#isValid}); a backend throws {@link ErrorCode#INVALID_ARGUMENT} for
 *       anything else, before touching storage. Names the backend reserves for itself (hidden bases, the metadata area, the thin pool) never appear
 *       in {@link #listVolumes}.
 *   <li>Sizes and offsets are bytes. A backend may round a requested virtual size up to its
 *       granularity (512 bytes for files, the VG extent size for LVM); the returned {@link
 *       VolumeInfo#virtualSizeBytes()} is the size actually made. It never rounds down.
 * </ul>
 *
 * <h2>Errors</h2>
 *
 * Every domain failure is a {@link ThinsrException} with the {@link ErrorCode} named on the method:
 * {@code SR_NOT_FOUND} when the SR's storage is gone, {@code VDI_NOT_FOUND} for an unknown volume
 * name, {@code VDI_EXISTS} when a new volume's name is taken, {@code NO_SPACE} when the storage
 * cannot hold the request, {@code TOOL_MISSING}/{@code TOOL_FAILED} (message naming the command,
 * its exit status and its stderr) when an external command is absent or fails, {@code CANCELLED}
 * when a {@link Progress} asked to stop. {@link IOException} is thrown only for I/O on the
 * metadata area. A failed call leaves no partly made volume behind.
 */
public interface StorageBackend {

    /** A short stable identifier of the implementation: {@code file} or {@code lvm-thin}. */
    String kind();

    // ---- SR storage -------------------------------------------------------------------------

    /**
     * Creates new SR storage as {@code config} describes (file: a directory; LVM: a VG, a thin
     * pool and a metadata LV on the given devices, or a pool in an existing VG) and formats its
     * metadata area to all zeros.
     *
     * @throws ThinsrException {@code SR_EXISTS} when thinsr storage is already there (never
     *     overwritten); {@code INVALID_ARGUMENT} for a missing or malformed configuration key;
     *     {@code NO_SPACE} when the devices are too small
     */
    SrInfo createSr(SrConfig config);

    /**
     * Finds existing SR storage made by {@link #createSr} (possibly by another process or before a
     * reboot) and makes it usable: activates what must be active. Idempotent.
     *
     * @throws ThinsrException {@code SR_NOT_FOUND} when there is no thinsr storage at the location
     */
    SrInfo introduceSr(SrConfig config);

    /**
     * Releases the SR without touching its data: detaches every attached volume and deactivates
     * what {@link #introduceSr} activated. Idempotent; succeeds when the storage is already gone.
     */
    void forgetSr(SrInfo sr);

    /**
     * Destroys the SR's storage with every volume in it (the caller checks emptiness first).
     * Detaches attached volumes first. Idempotent: succeeds when the storage is already gone.
     * Afterwards {@link #introduceSr} of the same configuration throws {@code SR_NOT_FOUND}.
     */
    void destroySr(SrInfo sr);

    /**
     * Space figures of the SR.
     *
     * @throws ThinsrException {@code SR_NOT_FOUND}
     */
    SrStat statSr(SrInfo sr);

    /**
     * The allocation granularity in bytes (qcow2 cluster size, dm-thin chunk size): maps and deltas
     * are exact at this granularity. A power of two, at least 512.
     */
    long blockSizeBytes(SrInfo sr);

    /**
     * The SR's metadata area: a fixed-size region (at least 1 MiB) that the caller owns entirely
     * and in which the backend stores nothing. Freshly created storage reads as zeros. The caller
     * closes the area.
     *
     * @throws ThinsrException {@code SR_NOT_FOUND}
     */
    MetadataArea openMetadata(SrInfo sr) throws IOException;

    /**
     * A local file for the per-SR lock ({@link java.nio.channels.FileChannel#lock()}), the same path
     * for every process on this host; its directory exists when this returns. The backend never
     * locks it itself.
     */
    Path lockFile(SrInfo sr);

    // ---- volumes --------------------------------------------------------------------------

    /**
     * Creates an empty volume of at least {@code virtualSizeBytes}.
     *
     * <ul>
     *   <li>{@link Provisioning#THIN}: nothing allocated; the map is all HOLE (or ZERO). Reads as
     *       zeros, or as {@code origin} where it is present.
     *   <li>{@link Provisioning#PREALLOCATED}: every byte allocated and zero-written (file: a raw
     *       file; LVM: a regular LV from the VG's free space, growing the pool's VG share as
     *       needed). Reports progress through {@code progress} at least every 64 MiB and checks
     *       {@link Progress#cancelled()} as often; on cancellation removes what it made and throws
     *       {@code CANCELLED}. Not combinable with an origin ({@code INVALID_ARGUMENT}).
     * </ul>
     *
     * @param origin a read-only external origin (template) read wherever the volume has no block
     *     of its own; see {@link Origin}. The volume's virtual size may exceed the origin's; past
     *     the origin's end it reads as zeros.
     * @throws ThinsrException {@code VDI_EXISTS}, {@code INVALID_ARGUMENT} (name, size &lt;= 0),
     *     {@code NO_SPACE}, {@code CANCELLED}
     */
    VolumeInfo createVolume(
            SrInfo sr,
            String volumeName,
            long virtualSizeBytes,
            Provisioning provisioning,
            Optional<Origin> origin,
            Progress progress);

    /**
     * Removes a volume. Its snapshots and clones stay readable and unchanged (file: a shared
     * backing file stays, hidden, until its last child goes). A volume that is attached is detached
     * first. Idempotent.
     *
     * @return whether the volume existed
     */
    boolean destroyVolume(SrInfo sr, String volumeName);

    /**
     * Makes {@code snapshotName} a point-in-time copy of {@code volumeName}: same virtual size and
     * content now, independent afterwards (writes to either never show in the other). Cheap (no
     * data copied) for thin volumes. The source stays attached if it was; the snapshot is not
     * attached. The snapshot shares the source's origin, if any.
     *
     * @throws ThinsrException {@code VDI_NOT_FOUND}, {@code VDI_EXISTS}, {@code NO_SPACE}
     */
    VolumeInfo snapshot(SrInfo sr, String volumeName, String snapshotName);

    /**
     * As {@link #snapshot} but for a copy meant to be written and run (xapi's {@code VDI.clone}).
     * Backends may implement both the same way; they differ only in {@link VolumeInfo#readOnly()},
     * which is {@code true} for snapshots.
     */
    VolumeInfo clone(SrInfo sr, String volumeName, String cloneName);

    /**
     * Grows a volume to at least {@code newVirtualSizeBytes}; the new range reads as zeros. Equal
     * to the current size (after rounding): no-op. Works while attached only if the backend says
     * so; otherwise {@code VDI_IN_USE}.
     *
     * @throws ThinsrException {@code VDI_SHRINK_REFUSED} when smaller than the current size,
     *     {@code VDI_NOT_FOUND}, {@code NO_SPACE}, {@code VDI_IN_USE}
     */
    VolumeInfo resize(SrInfo sr, String volumeName, long newVirtualSizeBytes);

    /**
     * Exposes the volume for I/O and returns where. Idempotent: attaching an attached volume returns
     * an equal {@link Attachment} without a second export. {@code origin} must equal the one given
     * at creation (the caller resolves the template URI to a local location first); it is ignored
     * by backends that recorded it themselves (qcow2 backing files).
     *
     * @param readOnly export read-only (snapshots are always exported read-only)
     * @throws ThinsrException {@code VDI_NOT_FOUND}, {@code TOOL_FAILED}
     */
    Attachment attach(SrInfo sr, String volumeName, Optional<Origin> origin, boolean readOnly);

    /** Undoes {@link #attach}: stops the export, flushes. Idempotent; a never-attached volume is fine. */
    void detach(SrInfo sr, String volumeName);

    /** The attachment of a volume attached by this or another process on this host, if any. */
    Optional<Attachment> attachment(SrInfo sr, String volumeName);

    /**
     * The QMP monitor of the qemu process that serves an attached volume, for block jobs on the
     * running export (live mirror). Empty when the volume is not attached or not served by qemu
     * (the default: device-mapper and LVM attachments).
     */
    default Optional<QemuMonitor> monitor(SrInfo sr, String volumeName) {
        return Optional.empty();
    }

    /**
     * A reader of a volume's bytes straight from the files that hold them, past the daemon that
     * serves its attachment, for a volume attached read-only (nothing writes it, and no merge touches
     * a chain in use, while it stays attached). Empty when the backend has no such path or the
     * volume's layout does not allow one (the default: device-mapper attachments are read directly
     * anyway). The caller closes the source and keeps the volume attached until then.
     */
    default Optional<BlockSource> openDirect(SrInfo sr, String volumeName) throws IOException {
        return Optional.empty();
    }

    /**
     * The volume's allocation map over {@code [0, virtualSize)}: blocks the volume holds itself are
     * {@code LOCAL} (DATA, or ZERO when known zero), blocks read from a backing file, shared
     * snapshot base or external origin carry that layer's state with {@code origin} provenance of
     * depth &gt;= 1, and the rest is HOLE. Exact at {@link #blockSizeBytes} granularity. Works
     * attached or not.
     *
     * @throws ThinsrException {@code VDI_NOT_FOUND}
     */
    AllocationMap allocationMap(SrInfo sr, String volumeName);

    /**
     * The byte ranges where {@code volumeName} may differ from {@code baseVolumeName} (typically its
     * snapshot): blocks written in either since they shared content, aligned outward to {@link
     * #blockSizeBytes}, plus, when the sizes differ, the range past the smaller size. Unchanged
     * blocks are never included; the same answer as {@code thin_delta}. When the two volumes share
     * no history the result is every block that is not HOLE in either.
     *
     * @throws ThinsrException {@code VDI_NOT_FOUND} for either name
     */
    ExtentSet delta(SrInfo sr, String volumeName, String baseVolumeName);

    /**
     * One volume's figures.
     *
     * @throws ThinsrException {@code VDI_NOT_FOUND}
     */
    VolumeInfo statVolume(SrInfo sr, String volumeName);

    /** Every visible volume, sorted by name. */
    List<VolumeInfo> listVolumes(SrInfo sr);
}
