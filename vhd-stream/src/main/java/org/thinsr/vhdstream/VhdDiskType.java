package org.thinsr.vhdstream;

import java.util.Optional;

/** The footer's {@code Disk Type} field (VHD spec, "Hard Disk Footer Format"). */
public enum VhdDiskType {
    /** Data then footer; the virtual disk is the file minus its last 512 bytes. */
    FIXED(2),
    /** Footer copy, dynamic header, BAT, blocks (sector bitmap + data), footer. */
    DYNAMIC(3),
    /** A dynamic disk whose unallocated sectors are read from a parent disk. */
    DIFFERENCING(4);

    private final int code;

    VhdDiskType(int code) {
        this.code = code;
    }

    /** The on-disk value. */
    public int code() {
        return code;
    }

    /** The type with this on-disk value; empty for 0 (none), 1 and 5 (reserved) and any other. */
    public static Optional<VhdDiskType> ofCode(int code) {
        for (VhdDiskType type : values()) {
            if (type.code == code) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }
}
