package org.thinsr.lifecycle;

/** The two kinds of VDI of the design note: a read-only template by URI, or a read-write disk. */
public enum VdiKind {
    /**
     * A read-only image named by a URI ({@code file://}, {@code nbd://}, {@code nbd+unix://},
     * {@code http(s)://}); only introduce, clone, snapshot and forget are allowed, anything else is
     * {@code VDI_IS_TEMPLATE}.
     */
    TEMPLATE,
    /** A volume of the SR's backend supporting every operation. */
    DISK;

    public String label() {
        return switch (this) {
            case TEMPLATE -> "template";
            case DISK -> "disk";
        };
    }
}
