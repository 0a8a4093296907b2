package org.thinsr.allocmap;

/**
 * Where the bytes of a run come from: the volume itself ({@link #LOCAL}, depth 0) or an origin /
 * backing image at {@code depth >= 1} (1 = the volume's direct origin or backing file, 2 = its
 * backing file, and so on, as qemu's {@code qemu:allocation-depth} counts minus one).
 */
public record Provenance(int depth) {
    public static final Provenance LOCAL = new Provenance(0);
    public static final Provenance ORIGIN = new Provenance(1);

    public Provenance {
        if (depth < 0) {
            throw new IllegalArgumentException("depth is negative: " + depth);
        }
    }

    public static Provenance origin(int depth) {
        if (depth < 1) {
            throw new IllegalArgumentException("origin depth must be at least 1: " + depth);
        }
        return depth == 1 ? ORIGIN : new Provenance(depth);
    }

    public static Provenance ofDepth(int depth) {
        return depth == 0 ? LOCAL : origin(depth);
    }

    public boolean isLocal() {
        return depth == 0;
    }

    /** {@code local}, {@code origin}, or {@code origin:N} for depths of 2 and more. */
    public String label() {
        return switch (depth) {
            case 0 -> "local";
            case 1 -> "origin";
            default -> "origin:" + depth;
        };
    }

    @Override
    public String toString() {
        return label();
    }
}
