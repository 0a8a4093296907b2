package org.thinsr.allocmap;

import java.util.Objects;

/** The allocation-map algebra: merges of a thin volume's own mappings with its origin's map. */
public final class AllocationMaps {
    private AllocationMaps() {}

    /**
     * The allocation map of a thin volume of {@code volumeSize} bytes with an external origin (a
     * read-only template it reads wherever it has no block of its own).
     *
     * <ul>
     *   <li>bytes in {@code thinMapped} (the volume's own dm-thin mappings) are LOCAL DATA;
     *   <li>elsewhere, below the origin's end, the origin's own state, with its provenance shifted
     *       one level down (origin LOCAL becomes {@link Provenance#ORIGIN}, its backing file
     *       {@code origin(2)}, ...);
     *   <li>past the origin's end, LOCAL HOLE (the volume reads zeros there).
     * </ul>
     *
     * <p>Everything is clipped to {@code [0, volumeSize)}. One linear walk over both inputs.
     *
     * @param volumeSize the thin volume's size in bytes
     * @param thinMapped the volume's mapped bytes ({@link ThinDevice#mappedExtents()})
     * @param origin the origin's map, for example from {@link QemuImgMapParser} or NBD block status
     */
    public static AllocationMap mergeExternalOrigin(long volumeSize, ExtentSet thinMapped, AllocationMap origin) {
        Objects.requireNonNull(thinMapped, "thinMapped");
        Objects.requireNonNull(origin, "origin");
        AllocationMap.Builder builder = AllocationMap.builder(volumeSize);
        ExtentSet mapped = thinMapped.clip(0, volumeSize);
        long originEnd = Math.min(origin.virtualSize(), volumeSize);
        int originRun = 0;
        for (int i = 0; i <= mapped.size(); i++) {
            long gapEnd = i < mapped.size() ? mapped.start(i) : volumeSize;
            long position = builder.position();
            long fromOriginEnd = Math.min(gapEnd, originEnd);
            while (position < fromOriginEnd) {
                while (origin.runEnd(originRun) <= position) {
                    originRun++;
                }
                long end = Math.min(origin.runEnd(originRun), fromOriginEnd);
                Provenance provenance = Provenance.origin(
                        Math.addExact(origin.runProvenance(originRun).depth(), 1));
                builder.add(position, end, origin.runState(originRun), provenance);
                position = end;
            }
            builder.fillTo(gapEnd, State.HOLE, Provenance.LOCAL);
            if (i < mapped.size()) {
                builder.add(mapped.start(i), mapped.end(i), State.DATA, Provenance.LOCAL);
            }
        }
        return builder.build();
    }
}
