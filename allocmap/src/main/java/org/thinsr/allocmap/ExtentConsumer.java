package org.thinsr.allocmap;

/** Receives the extents of an {@link ExtentSet} in ascending order, without boxing. */
@FunctionalInterface
public interface ExtentConsumer {
    /** Called once per extent {@code [start, end)}, in ascending order. */
    void accept(long start, long end);
}
