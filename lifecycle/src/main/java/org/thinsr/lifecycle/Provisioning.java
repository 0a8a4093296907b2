package org.thinsr.lifecycle;

/** How a volume's blocks are allocated. */
public enum Provisioning {
    /** Blocks are allocated on first write (qcow2 clusters, dm-thin chunks). */
    THIN,
    /** Every block is allocated and zero-written at creation (raw file, regular LV). */
    PREALLOCATED;

    /** Lower-case name for JSON and the CLI. */
    public String label() {
        return switch (this) {
            case THIN -> "thin";
            case PREALLOCATED -> "preallocated";
        };
    }
}
