package org.thinsr.allocmap;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The allocation map of a virtual disk: its virtual size plus ordered, non-overlapping, gap-free
 * runs covering {@code [0, virtualSize)}, each with a {@link State} and a {@link Provenance}.
 * Adjacent runs always differ in state or provenance (the builder coalesces them).
 *
 * <p>Layout: run {@code i} covers {@code [starts[i], starts[i + 1])}, the last one ending at the
 * virtual size; states and depths sit in parallel primitive arrays (13 bytes a run). Immutable and
 * thread-safe.
 */
public final class AllocationMap {
    private final long virtualSize;
    private final long[] starts;
    private final byte[] states;
    private final int[] depths;

    private AllocationMap(long virtualSize, long[] starts, byte[] states, int[] depths) {
        this.virtualSize = virtualSize;
        this.starts = starts;
        this.states = states;
        this.depths = depths;
    }

    /** A builder for a map of {@code virtualSize} bytes; runs are added in ascending order. */
    public static Builder builder(long virtualSize) {
        return new Builder(virtualSize);
    }

    /** A map whose whole range has one state and provenance (no runs for a 0-byte disk). */
    public static AllocationMap uniform(long virtualSize, State state, Provenance provenance) {
        return builder(virtualSize).add(0, virtualSize, state, provenance).build();
    }

    /**
     * A local map of {@code virtualSize} bytes: {@code data} extents are DATA, the rest HOLE. Data
     * beyond the virtual size is clipped.
     */
    public static AllocationMap ofData(long virtualSize, ExtentSet data) {
        Builder builder = builder(virtualSize);
        ExtentSet clipped = data.clip(0, virtualSize);
        for (int i = 0; i < clipped.size(); i++) {
            builder.fillTo(clipped.start(i), State.HOLE, Provenance.LOCAL);
            builder.add(clipped.start(i), clipped.end(i), State.DATA, Provenance.LOCAL);
        }
        return builder.fillTo(virtualSize, State.HOLE, Provenance.LOCAL).build();
    }

    public long virtualSize() {
        return virtualSize;
    }

    /** Number of runs (0 only for a 0-byte disk). */
    public int runCount() {
        return starts.length;
    }

    public long runStart(int index) {
        return starts[index];
    }

    public long runEnd(int index) {
        return index + 1 < starts.length ? starts[index + 1] : virtualSize;
    }

    public State runState(int index) {
        return State.ofCode(states[index]);
    }

    public Provenance runProvenance(int index) {
        return Provenance.ofDepth(depths[index]);
    }

    /** Index of the run containing {@code offset}, in {@code [0, virtualSize)}. */
    public int runIndexAt(long offset) {
        Objects.checkIndex(offset, virtualSize);
        int index = Arrays.binarySearch(starts, offset);
        return index >= 0 ? index : -index - 2;
    }

    public void forEachRun(RunConsumer consumer) {
        for (int i = 0; i < starts.length; i++) {
            consumer.accept(starts[i], runEnd(i), State.ofCode(states[i]), Provenance.ofDepth(depths[i]));
        }
    }

    /** The runs as records (allocates one per {@code get}); for output and tests. */
    public List<Run> runs() {
        return new AbstractList<>() {
            @Override
            public Run get(int index) {
                return new Run(runStart(index), runEnd(index), runState(index), runProvenance(index));
            }

            @Override
            public int size() {
                return runCount();
            }
        };
    }

    /** Allocated extents: DATA and ZERO runs (qemu's {@code data: true}). */
    public ExtentSet dataExtents() {
        return select(state -> state != State.HOLE, false);
    }

    /** Extents that may hold non-zero bytes: DATA runs only. These are what a copy must read. */
    public ExtentSet nonZeroExtents() {
        return select(state -> state == State.DATA, false);
    }

    /** Allocated extents of the volume itself (DATA or ZERO with LOCAL provenance). */
    public ExtentSet localExtents() {
        return select(state -> state != State.HOLE, true);
    }

    /** Extents in any of the given states, whatever their provenance. */
    public ExtentSet extentsIn(State state) {
        return select(candidate -> candidate == state, false);
    }

    private interface StatePredicate {
        boolean test(State state);
    }

    private ExtentSet select(StatePredicate predicate, boolean localOnly) {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int i = 0; i < starts.length; i++) {
            if (predicate.test(State.ofCode(states[i])) && (!localOnly || depths[i] == 0)) {
                builder.add(starts[i], runEnd(i));
            }
        }
        return builder.build();
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof AllocationMap other
                && virtualSize == other.virtualSize
                && Arrays.equals(starts, other.starts)
                && Arrays.equals(states, other.states)
                && Arrays.equals(depths, other.depths);
    }

    @Override
    public int hashCode() {
        return Objects.hash(virtualSize, Arrays.hashCode(starts), Arrays.hashCode(states), Arrays.hashCode(depths));
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("AllocationMap[size=").append(virtualSize);
        int shown = Math.min(runCount(), 16);
        for (int i = 0; i < shown; i++) {
            text.append(", ").append(runs().get(i));
        }
        if (shown < runCount()) {
            text.append(", ... ").append(runCount() - shown).append(" more");
        }
        return text.append(']').toString();
    }

    /** One run {@code [start, end)} of a map. */
    public record Run(long start, long end, State state, Provenance provenance) {
        public Run {
            ExtentSet.checkExtent(start, end);
            Objects.requireNonNull(state, "state");
            Objects.requireNonNull(provenance, "provenance");
        }

        public long length() {
            return end - start;
        }

        @Override
        public String toString() {
            return "[" + start + ", " + end + ") " + state.label() + " " + provenance.label();
        }
    }

    /**
     * Builds a map from runs added in ascending order without gaps; adjacent runs of the same state
     * and provenance are coalesced. Not thread-safe.
     */
    public static final class Builder {
        private final long virtualSize;
        private long[] starts = new long[16];
        private byte[] states = new byte[16];
        private int[] depths = new int[16];
        private int count;
        private long position;

        private Builder(long virtualSize) {
            if (virtualSize < 0) {
                throw new IllegalArgumentException("virtual size is negative: " + virtualSize);
            }
            this.virtualSize = virtualSize;
        }

        /** Bytes covered so far: the next run must start here. */
        public long position() {
            return position;
        }

        public long virtualSize() {
            return virtualSize;
        }

        /** Adds the run {@code [start, end)}; {@code start} must equal {@link #position()}. */
        public Builder add(long start, long end, State state, Provenance provenance) {
            if (start != position) {
                throw new IllegalArgumentException("run starts at " + start + " but the map so far ends at " + position
                        + " (runs must be gap-free)");
            }
            if (end < start || end > virtualSize) {
                throw new IllegalArgumentException("run end " + end + " is outside [" + start + ", " + virtualSize
                        + "] (virtual size " + virtualSize + ")");
            }
            Objects.requireNonNull(state, "state");
            Objects.requireNonNull(provenance, "provenance");
            if (start == end) {
                return this;
            }
            position = end;
            if (count > 0 && states[count - 1] == state.code() && depths[count - 1] == provenance.depth()) {
                return this;
            }
            if (count == starts.length) {
                int capacity = count * 2;
                starts = Arrays.copyOf(starts, capacity);
                states = Arrays.copyOf(states, capacity);
                depths = Arrays.copyOf(depths, capacity);
            }
            starts[count] = start;
            states[count] = state.code();
            depths[count] = provenance.depth();
            count++;
            return this;
        }

        /** Adds a run of {@code length} bytes at {@link #position()}. */
        public Builder addLength(long length, State state, Provenance provenance) {
            return add(position, Math.addExact(position, length), state, provenance);
        }

        /** Covers {@code [position(), end)} with one run; nothing when {@code end <= position()}. */
        public Builder fillTo(long end, State state, Provenance provenance) {
            return end > position ? add(position, end, state, provenance) : this;
        }

        /** Builds the map; every byte of {@code [0, virtualSize)} must have been covered. */
        public AllocationMap build() {
            if (position != virtualSize) {
                throw new IllegalStateException(
                        "runs cover [0, " + position + ") but the virtual size is " + virtualSize);
            }
            return new AllocationMap(
                    virtualSize,
                    Arrays.copyOf(starts, count),
                    Arrays.copyOf(states, count),
                    Arrays.copyOf(depths, count));
        }
    }
}
