package org.thinsr.allocmap;

import java.util.Arrays;

/**
 * The mappings of one thin device as runs {@code (originBegin, dataBegin, length)} in blocks,
 * ascending and non-overlapping in origin blocks, stored in chunked primitive arrays (24 bytes a
 * run; no array is ever copied whole, so building never needs twice the final memory). Runs whose
 * origin and data blocks both continue the previous run are coalesced as they are appended. Immutable
 * once built.
 */
final class MappingRuns {
    static final int CHUNK_SHIFT = 16;
    static final int CHUNK_SIZE = 1 << CHUNK_SHIFT;
    static final int CHUNK_MASK = CHUNK_SIZE - 1;
    static final MappingRuns EMPTY = new MappingRuns(new long[0][], new long[0][], new long[0][], 0, 0);

    private final long[][] origins;
    private final long[][] datas;
    private final long[][] lengths;
    private final int count;
    private final long blockCount;

    private MappingRuns(long[][] origins, long[][] datas, long[][] lengths, int count, long blockCount) {
        this.origins = origins;
        this.datas = datas;
        this.lengths = lengths;
        this.count = count;
        this.blockCount = blockCount;
    }

    int count() {
        return count;
    }

    /** Sum of the run lengths, in blocks. */
    long blockCount() {
        return blockCount;
    }

    long origin(int index) {
        return origins[index >>> CHUNK_SHIFT][index & CHUNK_MASK];
    }

    long data(int index) {
        return datas[index >>> CHUNK_SHIFT][index & CHUNK_MASK];
    }

    long length(int index) {
        return lengths[index >>> CHUNK_SHIFT][index & CHUNK_MASK];
    }

    @Override
    public boolean equals(Object obj) {
        if (!(obj instanceof MappingRuns other) || count != other.count || blockCount != other.blockCount) {
            return false;
        }
        for (int i = 0; i < count; i++) {
            if (origin(i) != other.origin(i) || data(i) != other.data(i) || length(i) != other.length(i)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        long hash = count;
        for (int i = 0; i < count; i++) {
            hash = hash * 31 + origin(i);
            hash = hash * 31 + data(i);
            hash = hash * 31 + length(i);
        }
        return Long.hashCode(hash);
    }

    /** Appends runs in ascending origin order. Not thread-safe. */
    static final class Builder {
        private long[][] origins = new long[4][];
        private long[][] datas = new long[4][];
        private long[][] lengths = new long[4][];
        private int count;
        private long blockCount;
        private long lastOriginEnd;
        private long lastDataEnd = -1;

        int count() {
            return count;
        }

        /** Exclusive end (in origin blocks) of the last run, 0 when empty. */
        long lastOriginEnd() {
            return lastOriginEnd;
        }

        /**
         * Appends a run; the caller has checked {@code originBegin >= lastOriginEnd()}, {@code length
         * >= 1} and that no end overflows. Returns false (appending nothing) when a new run would make
         * more than {@code maxRuns}.
         */
        boolean append(long originBegin, long dataBegin, long length, long maxRuns) {
            blockCount += length;
            if (count > 0 && originBegin == lastOriginEnd && dataBegin == lastDataEnd) {
                int last = count - 1;
                lengths[last >>> CHUNK_SHIFT][last & CHUNK_MASK] += length;
                lastOriginEnd += length;
                lastDataEnd += length;
                return true;
            }
            if (count >= maxRuns || count == Integer.MAX_VALUE) {
                blockCount -= length;
                return false;
            }
            int chunk = count >>> CHUNK_SHIFT;
            int slot = count & CHUNK_MASK;
            if (chunk == origins.length) {
                origins = Arrays.copyOf(origins, chunk * 2);
                datas = Arrays.copyOf(datas, chunk * 2);
                lengths = Arrays.copyOf(lengths, chunk * 2);
            }
            if (origins[chunk] == null) {
                int size = chunk == 0 ? 16 : CHUNK_SIZE;
                origins[chunk] = new long[size];
                datas[chunk] = new long[size];
                lengths[chunk] = new long[size];
            } else if (slot == origins[chunk].length) {
                int size = Math.min(CHUNK_SIZE, slot * 4);
                origins[chunk] = Arrays.copyOf(origins[chunk], size);
                datas[chunk] = Arrays.copyOf(datas[chunk], size);
                lengths[chunk] = Arrays.copyOf(lengths[chunk], size);
            }
            origins[chunk][slot] = originBegin;
            datas[chunk][slot] = dataBegin;
            lengths[chunk][slot] = length;
            count++;
            lastOriginEnd = originBegin + length;
            lastDataEnd = dataBegin + length;
            return true;
        }

        MappingRuns build() {
            if (count == 0) {
                return EMPTY;
            }
            return new MappingRuns(origins, datas, lengths, count, blockCount);
        }
    }
}
