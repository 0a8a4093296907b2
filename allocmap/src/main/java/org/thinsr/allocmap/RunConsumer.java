package org.thinsr.allocmap;

/** Receives the runs of an {@link AllocationMap} in ascending order, without boxing offsets. */
@FunctionalInterface
public interface RunConsumer {
    /** Called once per run {@code [start, end)}. */
    void accept(long start, long end, State state, Provenance provenance);
}
