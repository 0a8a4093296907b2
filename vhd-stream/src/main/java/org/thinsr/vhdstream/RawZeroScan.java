package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/**
 * Refines an allocation map by reading its DATA runs: every granule-aligned piece that reads as
 * all zeros becomes ZERO (allocated, known zero), so planners skip it. Runs that are not DATA are
 * never read. Cost: one small read (the first 4 KiB) of each granule that holds data near its
 * start; granules whose first 4 KiB are zeros are read whole.
 */
public final class RawZeroScan {
    static final int MAX_GRANULARITY = 64 << 20;

    private RawZeroScan() {}

    static void checkGranularity(int granularity) {
        if (granularity < 512 || granularity > MAX_GRANULARITY || Integer.bitCount(granularity) != 1) {
            throw new IllegalArgumentException(
                    "zero scan granularity: actual " + granularity + ", expected a power of two in [512, 64 MiB]");
        }
    }

    /**
     * The map with all-zero granules of its DATA runs turned into ZERO (same provenance). A granule
     * is {@code [k * granularity, (k + 1) * granularity)} clipped to the run.
     *
     * @param granularity a power of two in [512, 64 MiB]
     */
    public static AllocationMap refine(AllocationMap map, BlockSource source, int granularity) throws IOException {
        checkGranularity(granularity);
        AllocationMap.Builder builder = AllocationMap.builder(map.virtualSize());
        ByteBuffer buffer = ByteBuffer.allocateDirect(granularity);
        for (int i = 0; i < map.runCount(); i++) {
            long start = map.runStart(i);
            long end = map.runEnd(i);
            State state = map.runState(i);
            Provenance provenance = map.runProvenance(i);
            switch (state) {
                case ZERO, HOLE -> builder.add(start, end, state, provenance);
                case DATA -> {
                    long position = start;
                    while (position < end) {
                        long granuleEnd = Math.min(end, (position / granularity + 1) * granularity);
                        boolean zero = VhdLayout.allZero(source, ExtentSet.of(position, granuleEnd), buffer);
                        builder.add(position, granuleEnd, zero ? State.ZERO : State.DATA, provenance);
                        position = granuleEnd;
                    }
                }
            }
        }
        return builder.build();
    }

    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();

    /** Whether every byte between the buffer's position and limit is zero; does not move it. */
    static boolean isAllZero(ByteBuffer buffer) {
        int position = buffer.position();
        int limit = buffer.limit();
        int zeroLength = ZEROS.capacity();
        for (int from = position; from < limit; from += zeroLength) {
            int length = Math.min(zeroLength, limit - from);
            if (buffer.slice(from, length).mismatch(ZEROS.slice(0, length)) != -1) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code bytes[from, to)} are all zero. */
    static boolean isAllZero(byte[] bytes, int from, int to) {
        return isAllZero(ByteBuffer.wrap(bytes, from, to - from).slice());
    }
}
