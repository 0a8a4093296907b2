package org.thinsr.migrate;

import java.util.List;
import java.util.Optional;
import org.thinsr.allocmap.BlockChecksums;

/** Compares per-block checksums of a source and a destination (see {@link BlockChecksums}). */
public final class Verification {
    private Verification() {}

    /** A block whose checksums differ: its byte offset and both sums. */
    public record Mismatch(long offset, String source, String destination) {
        @Override
        public String toString() {
            return "block at offset " + offset + ": source " + source + ", destination " + destination;
        }
    }

    /** The first differing block, or empty when both lists are equal. */
    public static Optional<Mismatch> firstMismatch(List<String> source, List<String> destination, int blockSize) {
        int blocks = Math.max(source.size(), destination.size());
        for (int i = 0; i < blocks; i++) {
            String a = i < source.size() ? source.get(i) : "(missing)";
            String b = i < destination.size() ? destination.get(i) : "(missing)";
            if (!a.equals(b)) {
                return Optional.of(new Mismatch((long) i * blockSize, a, b));
            }
        }
        return Optional.empty();
    }
}
