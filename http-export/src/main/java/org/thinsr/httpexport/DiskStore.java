package org.thinsr.httpexport;

import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;

/**
 * What the HTTP service needs of an SR: the port that a lifecycle adapter implements and tests fake.
 *
 * <p>VDIs are named by the SR's own identifiers ({@link DiskInfo#id()}, or a name label that
 * resolves to exactly one VDI); a name never reaches the filesystem. Failures are {@link
 * org.thinsr.allocmap.ThinsrException}s: {@code VDI_NOT_FOUND}, {@code VDI_IS_TEMPLATE}, {@code
 * NO_SPACE}, ... Implementations are thread-safe.
 */
public interface DiskStore {
    List<DiskInfo> list();

    /** The VDI named {@code vdi} (id or unique name label). */
    DiskInfo find(String vdi);

    /** Creates an empty VDI of {@code virtualSize} bytes. */
    DiskInfo create(String nameLabel, long virtualSize);

    /** Destroys a VDI; false when there is none (idempotent). Templates: {@code VDI_IS_TEMPLATE}. */
    boolean destroy(String vdi);

    /**
     * A frozen, consistent view for export: the disk (or a snapshot of it) as it is now. With a
     * {@code base}, {@link ExportView#changed()} holds the extents that differ from it.
     */
    ExportView openForExport(String vdi, Optional<String> base) throws IOException;

    /**
     * A staging target for an import: writes land in a fresh volume (or a fresh snapshot); the VDI
     * changes only on {@link ImportTarget#commit()}. Closing without commit discards everything
     * written, leaving the VDI exactly as it was.
     *
     * @param overCurrentContent the stream carries only some ranges (xapi's chunked framing, where
     *     the rest of the disk "stays as it is"): the staging starts as a copy of the VDI's current
     *     content instead of zeros
     */
    ImportTarget beginImport(String vdi, boolean overCurrentContent) throws IOException;

    /** Random-access writes straight into the VDI (imageio's PUT with Content-Range, PATCH). */
    WriteHandle openForWrite(String vdi) throws IOException;

    /** A VDI as the service lists it. */
    record DiskInfo(String id, String nameLabel, long virtualSize, boolean readOnly) {
        public DiskInfo {
            if (virtualSize < 0) {
                throw new IllegalArgumentException("virtual size is negative: " + virtualSize);
            }
        }
    }

    /** A consistent read-only view of a disk; closing releases it (e.g. removes its snapshot). */
    interface ExportView extends Closeable {
        DiskInfo disk();

        BlockSource source();

        /** The allocation map of the whole disk. */
        AllocationMap map();

        /** With a base: the extents that differ from it; empty without one. */
        Optional<ExtentSet> changed();

        /** A strong validator of the content: equal tags mean equal bytes. */
        String etag();
    }

    /** A whole-disk import in progress. */
    interface ImportTarget extends Closeable {
        BlockSink sink();

        /** Makes the imported content the VDI's content; only after the whole stream was verified. */
        void commit() throws IOException;
    }

    /** Random-access writes into a VDI. */
    interface WriteHandle extends Closeable {
        BlockSink sink();

        /**
         * The {@code nbd+unix://} URI of the daemon that serves the VDI's writes, when one does
         * (file SRs); {@code POST /vdis/{vdi}/nbd} tunnels a client's connection to it. Empty when
         * the VDI is written directly (a block device).
         */
        default Optional<String> nbdTarget() {
            return Optional.empty();
        }
    }
}
