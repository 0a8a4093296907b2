package org.thinsr.allocmap;

import java.util.Objects;

/**
 * One {@code <device>} of a {@code thin_dump}: its attributes and its mappings from thin (origin)
 * blocks to pool data blocks.
 *
 * <p>Mappings are runs {@code (originBegin, dataBegin, length)} in thin blocks of {@link
 * #dataBlockSizeBytes()}, ascending and non-overlapping in origin blocks. Consecutive mappings whose
 * origin and data blocks both continue each other are coalesced into one run (the per-block {@code
 * time} is not kept): that is all {@link ThinDelta} needs. Immutable and thread-safe.
 */
public final class ThinDevice {
    private final long devId;
    private final long mappedBlocks;
    private final long transaction;
    private final long creationTime;
    private final long snapTime;
    private final long dataBlockSizeBytes;
    private final MappingRuns runs;

    ThinDevice(
            long devId,
            long mappedBlocks,
            long transaction,
            long creationTime,
            long snapTime,
            long dataBlockSizeBytes,
            MappingRuns runs) {
        this.devId = devId;
        this.mappedBlocks = mappedBlocks;
        this.transaction = transaction;
        this.creationTime = creationTime;
        this.snapTime = snapTime;
        this.dataBlockSizeBytes = dataBlockSizeBytes;
        this.runs = Objects.requireNonNull(runs, "runs");
    }

    public long devId() {
        return devId;
    }

    /** The {@code mapped_blocks} attribute as printed (compare {@link #mappedBlockCount()}). */
    public long mappedBlocks() {
        return mappedBlocks;
    }

    public long transaction() {
        return transaction;
    }

    public long creationTime() {
        return creationTime;
    }

    public long snapTime() {
        return snapTime;
    }

    /** The pool's thin block size in bytes. */
    public long dataBlockSizeBytes() {
        return dataBlockSizeBytes;
    }

    /** Number of (coalesced) mapping runs. */
    public int mappingCount() {
        return runs.count();
    }

    /** First origin (thin) block of run {@code index}. */
    public long originBegin(int index) {
        Objects.checkIndex(index, runs.count());
        return runs.origin(index);
    }

    /** First pool data block of run {@code index}. */
    public long dataBegin(int index) {
        Objects.checkIndex(index, runs.count());
        return runs.data(index);
    }

    /** Length of run {@code index} in blocks (at least 1). */
    public long length(int index) {
        Objects.checkIndex(index, runs.count());
        return runs.length(index);
    }

    /** Number of mapped blocks counted from the mappings. */
    public long mappedBlockCount() {
        return runs.blockCount();
    }

    MappingRuns runs() {
        return runs;
    }

    /** The mapped origin blocks as an extent set in block units. */
    public ExtentSet mappedBlockExtents() {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int i = 0; i < runs.count(); i++) {
            long origin = runs.origin(i);
            builder.add(origin, origin + runs.length(i));
        }
        return builder.build();
    }

    /** The mapped bytes of the thin volume: origin blocks times the block size. */
    public ExtentSet mappedExtents() {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int i = 0; i < runs.count(); i++) {
            long origin = runs.origin(i);
            // the parser has checked (origin + length) * block size fits a long
            builder.add(origin * dataBlockSizeBytes, (origin + runs.length(i)) * dataBlockSizeBytes);
        }
        return builder.build();
    }

    /** Equal attributes and equal (coalesced) mappings. */
    @Override
    public boolean equals(Object obj) {
        return obj instanceof ThinDevice other
                && devId == other.devId
                && mappedBlocks == other.mappedBlocks
                && transaction == other.transaction
                && creationTime == other.creationTime
                && snapTime == other.snapTime
                && dataBlockSizeBytes == other.dataBlockSizeBytes
                && runs.equals(other.runs);
    }

    @Override
    public int hashCode() {
        return Objects.hash(devId, mappedBlocks, dataBlockSizeBytes, runs);
    }

    @Override
    public String toString() {
        return "ThinDevice[dev_id=" + devId + ", runs=" + runs.count() + ", blocks=" + runs.blockCount() + "]";
    }
}
