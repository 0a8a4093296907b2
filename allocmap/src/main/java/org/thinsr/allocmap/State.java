package org.thinsr.allocmap;

/**
 * What a run of an {@link AllocationMap} holds, in qemu's and NBD's terms.
 *
 * <ul>
 *   <li>{@code DATA}: allocated and may hold non-zero bytes (NBD block status flags 0; qemu-img map
 *       {@code data: true, zero: false}). A copy must read it.
 *   <li>{@code ZERO}: allocated but known to read as zeros (NBD {@code NBD_STATE_ZERO} without
 *       {@code NBD_STATE_HOLE}; qemu-img map {@code data: true, zero: true}).
 *   <li>{@code HOLE}: not allocated, reads as zeros (NBD {@code HOLE|ZERO}; qemu-img map {@code data:
 *       false}).
 * </ul>
 */
public enum State {
    DATA,
    ZERO,
    HOLE;

    /** A stable one-byte code for compact storage: 0 DATA, 1 ZERO, 2 HOLE. */
    byte code() {
        return switch (this) {
            case DATA -> 0;
            case ZERO -> 1;
            case HOLE -> 2;
        };
    }

    /** The inverse of {@link #code()}. */
    static State ofCode(byte code) {
        return switch (code) {
            case 0 -> DATA;
            case 1 -> ZERO;
            case 2 -> HOLE;
            default -> throw new IllegalArgumentException("unknown state code " + code);
        };
    }

    /** Lower-case name as printed by {@code thinsr map} ({@code data}, {@code zero}, {@code hole}). */
    public String label() {
        return switch (this) {
            case DATA -> "data";
            case ZERO -> "zero";
            case HOLE -> "hole";
        };
    }

    /** The inverse of {@link #label()}; throws on anything else. */
    public static State ofLabel(String label) {
        return switch (label) {
            case "data" -> DATA;
            case "zero" -> ZERO;
            case "hole" -> HOLE;
            default -> throw new IllegalArgumentException("unknown state '" + label + "', expected data, zero or hole");
        };
    }
}
