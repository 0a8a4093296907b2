package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/**
 * The delta between a disk and a base image of it, by content: the granules whose bytes differ.
 * Only granules that hold DATA on either side are read (everything else reads as zeros on both),
 * so the cost grows with the allocated bytes of the two images, not with the virtual size.
 */
public final class RawDelta {
    private RawDelta() {}

    /**
     * A map of {@code map.virtualSize()} bytes where DATA marks every granule of {@code source}
     * that differs from {@code base} (bytes of {@code base} past its end count as zeros) and HOLE
     * marks the unchanged rest. A changed granule that now reads as zeros is still DATA: a delta
     * must carry it.
     *
     * @param granularity a power of two in [512, 64 MiB]
     */
    public static AllocationMap changed(
            AllocationMap map, BlockSource source, AllocationMap baseMap, BlockSource base, int granularity)
            throws IOException {
        RawZeroScan.checkGranularity(granularity);
        long size = map.virtualSize();
        long baseSize = baseMap.virtualSize();
        ExtentSet candidates = map.nonZeroExtents()
                .union(baseMap.nonZeroExtents())
                .alignOut(granularity)
                .clip(0, size);
        ByteBuffer ours = ByteBuffer.allocateDirect(granularity);
        ByteBuffer theirs = ByteBuffer.allocateDirect(granularity);
        AllocationMap.Builder builder = AllocationMap.builder(size);
        for (int i = 0; i < candidates.size(); i++) {
            for (long start = candidates.start(i); start < candidates.end(i); start += granularity) {
                long end = Math.min(start + granularity, candidates.end(i));
                int length = (int) (end - start);
                ours.clear().limit(length);
                source.readFully(start, ours);
                ours.flip();
                theirs.clear().limit(length);
                int fromBase = (int) Math.max(0, Math.min(length, baseSize - start));
                if (fromBase > 0) {
                    theirs.limit(fromBase);
                    base.readFully(start, theirs);
                    theirs.limit(length);
                }
                while (theirs.hasRemaining()) {
                    theirs.put((byte) 0);
                }
                theirs.flip();
                boolean same = ours.mismatch(theirs) == -1;
                builder.fillTo(start, State.HOLE, Provenance.LOCAL);
                builder.add(start, end, same ? State.HOLE : State.DATA, Provenance.LOCAL);
            }
        }
        return builder.fillTo(size, State.HOLE, Provenance.LOCAL).build();
    }
}
