package org.thinsr.allocmap;

import java.util.Objects;
import java.util.OptionalLong;

/**
 * The {@code <superblock>} of a {@code thin_dump} (or {@code thin_delta}) document: the pool's
 * identity and geometry.
 *
 * @param uuid the pool's uuid as printed (often empty)
 * @param time the pool's current snapshot time
 * @param transaction the pool's transaction id
 * @param flags superblock flags; absent in {@code thin_delta} output
 * @param version metadata format version; absent in {@code thin_delta} output
 * @param dataBlockSizeSectors the thin block size in 512-byte sectors (128 = 64 KiB)
 * @param nrDataBlocks data blocks in the pool; 0 in {@code thin_dump -m} metadata-snapshot dumps
 * @param metadataSnap the metadata snapshot block (thin-provisioning-tools 1.x only)
 */
public record ThinSuperblock(
        String uuid,
        long time,
        long transaction,
        OptionalLong flags,
        OptionalLong version,
        long dataBlockSizeSectors,
        long nrDataBlocks,
        OptionalLong metadataSnap) {
    /** The largest block size accepted, in sectors (dm-thin allows up to 2^21 sectors = 1 GiB). */
    public static final long MAX_DATA_BLOCK_SIZE_SECTORS = 1L << 21;

    public ThinSuperblock {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(flags, "flags");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(metadataSnap, "metadataSnap");
        if (time < 0 || transaction < 0 || nrDataBlocks < 0) {
            throw new IllegalArgumentException("negative superblock field: time " + time + ", transaction "
                    + transaction + ", nr_data_blocks " + nrDataBlocks);
        }
        if (dataBlockSizeSectors < 1 || dataBlockSizeSectors > MAX_DATA_BLOCK_SIZE_SECTORS) {
            throw new IllegalArgumentException("data block size is outside [1, " + MAX_DATA_BLOCK_SIZE_SECTORS
                    + "] sectors: " + dataBlockSizeSectors);
        }
    }

    /** The thin block size in bytes ({@code dataBlockSizeSectors * 512}). */
    public long dataBlockSizeBytes() {
        return dataBlockSizeSectors * 512L;
    }
}
