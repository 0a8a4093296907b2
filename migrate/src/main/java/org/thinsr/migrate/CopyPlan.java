package org.thinsr.migrate;

import java.util.Objects;
import java.util.Optional;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;

/**
 * What a copy pass moves: the extents whose bytes must be read and sent ({@link #data()}), and the
 * extents that must be made to read as zeros on the destination without sending bytes ({@link
 * #zeros()}). The two are disjoint.
 *
 * <p>A full copy into a fresh destination (which reads as zeros) sends the source's DATA runs and
 * nothing else. A delta pass sends the DATA runs among the changed extents and zeroes the changed
 * extents that are ZERO or HOLE now.
 */
public record CopyPlan(long virtualSize, ExtentSet data, ExtentSet zeros) {
    public CopyPlan {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(zeros, "zeros");
        if ((!data.isEmpty() && data.max() > virtualSize) || (!zeros.isEmpty() && zeros.max() > virtualSize)) {
            throw new IllegalArgumentException("plan reaches past the virtual size " + virtualSize);
        }
        if (!data.intersection(zeros).isEmpty()) {
            throw new IllegalArgumentException("data and zero extents overlap: " + data.intersection(zeros));
        }
    }

    /** Everything a fresh, all-zero destination needs: the source's DATA runs. */
    public static CopyPlan full(AllocationMap source) {
        return new CopyPlan(source.virtualSize(), source.nonZeroExtents(), ExtentSet.empty());
    }

    /**
     * The pass for {@code changed} extents of {@code source}: DATA among them is sent, the rest is
     * zeroed. With no changed set, a full copy into a destination that may hold old data: DATA sent,
     * everything else zeroed.
     */
    public static CopyPlan delta(AllocationMap source, Optional<ExtentSet> changed) {
        ExtentSet scope = changed.orElse(ExtentSet.of(0, source.virtualSize())).clip(0, source.virtualSize());
        ExtentSet data = source.nonZeroExtents().intersection(scope);
        return new CopyPlan(source.virtualSize(), data, scope.difference(data));
    }

    /** The same plan minus extents already done (from a journal). */
    public CopyPlan minus(ExtentSet done) {
        return new CopyPlan(virtualSize, data.difference(done), zeros.difference(done));
    }

    /** Bytes that cross the wire: the data extents. */
    public long bytesToSend() {
        return data.totalLength();
    }
}
