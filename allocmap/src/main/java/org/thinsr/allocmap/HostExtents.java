package org.thinsr.allocmap;

import java.util.Arrays;

/**
 * Where the data of an image chain lies in its files, as {@code qemu-img map --output=json} says:
 * for each run of DATA, its virtual range, the depth of the layer that holds it (0: the top file)
 * and its offset in that layer's file, or {@link #UNKNOWN} when qemu gave none (a compressed or
 * encrypted cluster, a protocol without offsets). Runs are sorted, disjoint and immutable; ranges
 * between them are not data (zeros or holes). Thread-safe.
 */
public final class HostExtents {
    /** The offset of a run whose bytes cannot be read from a file at a known place. */
    public static final long UNKNOWN = -1;

    private final long[] starts;
    private final long[] ends;
    private final int[] depths;
    private final long[] offsets;

    private HostExtents(long[] starts, long[] ends, int[] depths, long[] offsets) {
        this.starts = starts;
        this.ends = ends;
        this.depths = depths;
        this.offsets = offsets;
    }

    /** The number of runs. */
    public int size() {
        return starts.length;
    }

    public long start(int run) {
        return starts[run];
    }

    public long end(int run) {
        return ends[run];
    }

    public int depth(int run) {
        return depths[run];
    }

    /** The file offset of the run's first byte in the layer at {@link #depth}, or {@link #UNKNOWN}. */
    public long hostOffset(int run) {
        return offsets[run];
    }

    /** Whether every run has a file offset, at a depth below {@code layers}. */
    public boolean locatedWithin(int layers) {
        for (int i = 0; i < starts.length; i++) {
            if (offsets[i] == UNKNOWN || depths[i] >= layers) {
                return false;
            }
        }
        return true;
    }

    /** The run that contains {@code offset}, or {@code -(insertion point) - 1} when none does. */
    public int find(long offset) {
        int index = Arrays.binarySearch(starts, offset);
        if (index >= 0) {
            return index;
        }
        int before = -index - 2;
        return before >= 0 && offset < ends[before] ? before : index;
    }

    /** Collects runs in ascending, non-overlapping order. */
    static final class Builder {
        private long[] starts = new long[16];
        private long[] ends = new long[16];
        private int[] depths = new int[16];
        private long[] offsets = new long[16];
        private int count;

        void add(long start, long end, int depth, long offset) {
            if (start >= end || (count > 0 && start < ends[count - 1]) || depth < 0 || offset < UNKNOWN) {
                throw new IllegalArgumentException(
                        "run [" + start + ", " + end + ") depth " + depth + " offset " + offset + " out of order");
            }
            if (count == starts.length) {
                int capacity = count + (count >> 1);
                starts = Arrays.copyOf(starts, capacity);
                ends = Arrays.copyOf(ends, capacity);
                depths = Arrays.copyOf(depths, capacity);
                offsets = Arrays.copyOf(offsets, capacity);
            }
            starts[count] = start;
            ends[count] = end;
            depths[count] = depth;
            offsets[count] = offset;
            count++;
        }

        HostExtents build() {
            return new HostExtents(
                    Arrays.copyOf(starts, count),
                    Arrays.copyOf(ends, count),
                    Arrays.copyOf(depths, count),
                    Arrays.copyOf(offsets, count));
        }
    }
}
