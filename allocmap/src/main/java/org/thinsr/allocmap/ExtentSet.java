package org.thinsr.allocmap;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;

/**
 * An immutable set of byte offsets, stored as sorted, disjoint, non-adjacent half-open extents:
 * Guava's {@code RangeSet} on primitives.
 *
 * <p>Layout: one {@code long[]} of {@code 2 * size()} bounds, {@code [start0, end0, start1, end1,
 * ...]} with {@code start_i < end_i < start_{i+1}}. So a built set costs 16 bytes per extent plus
 * the array header, and every operation is a linear merge over those arrays. Empty extents are never
 * stored; touching or overlapping extents are coalesced.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class ExtentSet {
    private static final long[] NO_BOUNDS = new long[0];
    private static final ExtentSet EMPTY = new ExtentSet(NO_BOUNDS);

    /** {@code [start0, end0, start1, end1, ...]}; never modified after construction. */
    private final long[] bounds;

    private ExtentSet(long[] bounds) {
        this.bounds = bounds;
    }

    public static ExtentSet empty() {
        return EMPTY;
    }

    /** The set holding the single extent {@code [start, end)} (empty when {@code start == end}). */
    public static ExtentSet of(long start, long end) {
        checkExtent(start, end);
        return start == end ? EMPTY : new ExtentSet(new long[] {start, end});
    }

    public static ExtentSet of(Extent extent) {
        return of(extent.start(), extent.end());
    }

    /** The union of the given extents, in any order. */
    public static ExtentSet of(Extent... extents) {
        Builder builder = builder();
        for (Extent extent : extents) {
            builder.add(extent.start(), extent.end());
        }
        return builder.build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Number of (maximal, disjoint) extents. */
    public int size() {
        return bounds.length >>> 1;
    }

    public boolean isEmpty() {
        return bounds.length == 0;
    }

    /** Start of extent {@code index}, in {@code [0, size())}. */
    public long start(int index) {
        return bounds[index << 1];
    }

    /** Exclusive end of extent {@code index}, in {@code [0, size())}. */
    public long end(int index) {
        return bounds[(index << 1) + 1];
    }

    public Extent extent(int index) {
        return new Extent(start(index), end(index));
    }

    /** Lowest offset in the set; throws on an empty set. */
    public long min() {
        requireNonEmpty();
        return bounds[0];
    }

    /** Exclusive upper bound of the set; throws on an empty set. */
    public long max() {
        requireNonEmpty();
        return bounds[bounds.length - 1];
    }

    /** Number of {@code long}s this set stores (two per extent); for memory accounting and tests. */
    int storedLongs() {
        return bounds.length;
    }

    /** Sum of the lengths of all extents, in bytes. */
    public long totalLength() {
        long total = 0;
        for (int i = 0; i < bounds.length; i += 2) {
            total += bounds[i + 1] - bounds[i];
        }
        return total;
    }

    /** Calls {@code consumer} for every extent, in ascending order. */
    public void forEach(ExtentConsumer consumer) {
        for (int i = 0; i < bounds.length; i += 2) {
            consumer.accept(bounds[i], bounds[i + 1]);
        }
    }

    /** A read-only list view of the extents; each {@code get} allocates an {@link Extent}. */
    public List<Extent> extents() {
        return new AbstractList<>() {
            @Override
            public Extent get(int index) {
                return extent(index);
            }

            @Override
            public int size() {
                return ExtentSet.this.size();
            }
        };
    }

    /** Whether {@code offset} lies in the set. */
    public boolean contains(long offset) {
        int index = indexOfExtentContainingOrAfter(offset);
        return index < size() && start(index) <= offset;
    }

    /** Whether the whole of {@code [start, end)} lies in the set; an empty range always does. */
    public boolean contains(long start, long end) {
        checkExtent(start, end);
        if (start == end) {
            return true;
        }
        int index = indexOfExtentContainingOrAfter(start);
        return index < size() && start(index) <= start && end <= end(index);
    }

    /** Whether any byte of {@code [start, end)} lies in the set. */
    public boolean intersects(long start, long end) {
        checkExtent(start, end);
        if (start == end) {
            return false;
        }
        int index = indexOfExtentContainingOrAfter(start);
        return index < size() && start(index) < end;
    }

    /**
     * Index of the first extent whose end is greater than {@code offset}, i.e. the extent containing
     * {@code offset} or else the first one after it; {@code size()} when there is none.
     */
    public int indexOfExtentContainingOrAfter(long offset) {
        int low = 0;
        int high = size();
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (end(mid) <= offset) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        return low;
    }

    public ExtentSet union(ExtentSet other) {
        if (other.isEmpty()) {
            return this;
        }
        if (isEmpty()) {
            return other;
        }
        long[] a = bounds;
        long[] b = other.bounds;
        long[] out = new long[a.length + b.length];
        int n = 0;
        int i = 0;
        int j = 0;
        while (i < a.length || j < b.length) {
            long start;
            long end;
            if (j >= b.length || (i < a.length && a[i] <= b[j])) {
                start = a[i];
                end = a[i + 1];
                i += 2;
            } else {
                start = b[j];
                end = b[j + 1];
                j += 2;
            }
            if (n > 0 && start <= out[n - 1]) {
                if (end > out[n - 1]) {
                    out[n - 1] = end;
                }
            } else {
                out[n++] = start;
                out[n++] = end;
            }
        }
        return fromBounds(out, n);
    }

    public ExtentSet intersection(ExtentSet other) {
        if (isEmpty() || other.isEmpty()) {
            return EMPTY;
        }
        long[] a = bounds;
        long[] b = other.bounds;
        long[] out = new long[a.length + b.length];
        int n = 0;
        int i = 0;
        int j = 0;
        while (i < a.length && j < b.length) {
            long start = Math.max(a[i], b[j]);
            long end = Math.min(a[i + 1], b[j + 1]);
            if (start < end) {
                out[n++] = start;
                out[n++] = end;
            }
            if (a[i + 1] < b[j + 1]) {
                i += 2;
            } else {
                j += 2;
            }
        }
        return fromBounds(out, n);
    }

    /** The offsets of this set that are not in {@code other}. */
    public ExtentSet difference(ExtentSet other) {
        if (isEmpty() || other.isEmpty()) {
            return this;
        }
        long[] a = bounds;
        long[] b = other.bounds;
        long[] out = new long[a.length + b.length];
        int n = 0;
        int j = 0;
        for (int i = 0; i < a.length; i += 2) {
            long start = a[i];
            long end = a[i + 1];
            while (j < b.length && b[j + 1] <= start) {
                j += 2;
            }
            int k = j;
            while (start < end && k < b.length && b[k] < end) {
                if (b[k] > start) {
                    out[n++] = start;
                    out[n++] = b[k];
                }
                start = Math.max(start, b[k + 1]);
                k += 2;
            }
            if (start < end) {
                out[n++] = start;
                out[n++] = end;
            }
        }
        return fromBounds(out, n);
    }

    /** The offsets of {@code [0, within)} that are not in this set. */
    public ExtentSet complement(long within) {
        return complement(0, within);
    }

    /** The offsets of {@code [start, end)} that are not in this set. */
    public ExtentSet complement(long start, long end) {
        return of(start, end).difference(this);
    }

    /** The offsets of this set that lie in {@code [start, end)}. */
    public ExtentSet clip(long start, long end) {
        checkExtent(start, end);
        if (isEmpty() || (start <= min() && max() <= end)) {
            return this;
        }
        return intersection(of(start, end));
    }

    /**
     * Rounds every extent out to multiples of {@code blockSize} (start down, end up) and coalesces
     * the result: the set of whole blocks that hold any byte of this set. An end that would pass
     * {@code Long.MAX_VALUE} when rounded up throws.
     */
    public ExtentSet alignOut(long blockSize) {
        if (blockSize <= 0) {
            throw new IllegalArgumentException("block size is not positive: " + blockSize);
        }
        if (blockSize == 1 || isEmpty()) {
            return this;
        }
        long[] out = new long[bounds.length];
        int n = 0;
        for (int i = 0; i < bounds.length; i += 2) {
            long start = bounds[i] - bounds[i] % blockSize;
            long end = roundUp(bounds[i + 1], blockSize);
            if (n > 0 && start <= out[n - 1]) {
                out[n - 1] = Math.max(out[n - 1], end);
            } else {
                out[n++] = start;
                out[n++] = end;
            }
        }
        return fromBounds(out, n);
    }

    /** Shifts every extent by {@code delta} bytes; throws when any bound would leave {@code [0, 2^63)}. */
    public ExtentSet shift(long delta) {
        if (delta == 0 || isEmpty()) {
            return this;
        }
        long[] out = new long[bounds.length];
        for (int i = 0; i < bounds.length; i++) {
            out[i] = Math.addExact(bounds[i], delta);
        }
        if (out[0] < 0) {
            throw new IllegalArgumentException("shift by " + delta + " moves offset " + bounds[0] + " below 0");
        }
        return new ExtentSet(out);
    }

    private static long roundUp(long value, long blockSize) {
        long remainder = value % blockSize;
        return remainder == 0 ? value : Math.addExact(value, blockSize - remainder);
    }

    private static ExtentSet fromBounds(long[] out, int n) {
        if (n == 0) {
            return EMPTY;
        }
        return new ExtentSet(n == out.length ? out : Arrays.copyOf(out, n));
    }

    private void requireNonEmpty() {
        if (bounds.length == 0) {
            throw new IllegalStateException("extent set is empty");
        }
    }

    static void checkExtent(long start, long end) {
        if (start < 0) {
            throw new IllegalArgumentException("start is negative: " + start);
        }
        if (end < start) {
            throw new IllegalArgumentException("end " + end + " is before start " + start);
        }
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof ExtentSet other && Arrays.equals(bounds, other.bounds);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bounds);
    }

    /** {@code {[0, 512), [1024, 2048)}}; long sets are cut after 16 extents. */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("{");
        int shown = Math.min(size(), 16);
        for (int i = 0; i < shown; i++) {
            if (i > 0) {
                text.append(", ");
            }
            text.append('[').append(start(i)).append(", ").append(end(i)).append(')');
        }
        if (shown < size()) {
            text.append(", ... ").append(size() - shown).append(" more");
        }
        return text.append('}').toString();
    }

    /**
     * Collects extents in any order and builds the coalesced set. Adding in ascending order is
     * linear; otherwise {@link #build()} sorts once. Not thread-safe; reusable after {@code build()}.
     */
    public static final class Builder {
        private long[] pending = new long[16];
        private int count;
        private boolean sorted = true;

        private Builder() {}

        /** Adds {@code [start, end)}; an empty extent is ignored. */
        public Builder add(long start, long end) {
            checkExtent(start, end);
            if (start == end) {
                return this;
            }
            if (count > 0) {
                long lastStart = pending[count - 2];
                long lastEnd = pending[count - 1];
                if (start >= lastStart && start <= lastEnd) {
                    if (end > lastEnd) {
                        pending[count - 1] = end;
                    }
                    return this;
                }
                if (start < lastStart) {
                    sorted = false;
                }
            }
            if (count == pending.length) {
                pending = Arrays.copyOf(pending, Math.max(16, count * 2));
            }
            pending[count++] = start;
            pending[count++] = end;
            return this;
        }

        public Builder add(Extent extent) {
            return add(extent.start(), extent.end());
        }

        public Builder addLength(long start, long length) {
            if (length < 0) {
                throw new IllegalArgumentException("length is negative: " + length);
            }
            return add(start, Math.addExact(start, length));
        }

        public Builder addAll(ExtentSet set) {
            set.forEach(this::add);
            return this;
        }

        /** Number of extents added so far (before coalescing across out-of-order adds). */
        public int pendingCount() {
            return count >>> 1;
        }

        public ExtentSet build() {
            if (count == 0) {
                return EMPTY;
            }
            long[] pairs = Arrays.copyOf(pending, count);
            if (!sorted) {
                sortPairs(pairs);
            }
            int n = 0;
            for (int i = 0; i < pairs.length; i += 2) {
                long start = pairs[i];
                long end = pairs[i + 1];
                if (n > 0 && start <= pairs[n - 1]) {
                    if (end > pairs[n - 1]) {
                        pairs[n - 1] = end;
                    }
                } else {
                    pairs[n++] = start;
                    pairs[n++] = end;
                }
            }
            return fromBounds(pairs, n);
        }

        /** Merge sort of {@code (start, end)} pairs by start; primitive, stable, O(n log n). */
        private static void sortPairs(long[] pairs) {
            long[] scratch = new long[pairs.length];
            mergeSort(pairs, scratch, 0, pairs.length >>> 1);
        }

        private static void mergeSort(long[] pairs, long[] scratch, int from, int to) {
            if (to - from < 2) {
                return;
            }
            if (to - from <= 16) {
                for (int i = from + 1; i < to; i++) {
                    long start = pairs[2 * i];
                    long end = pairs[2 * i + 1];
                    int j = i - 1;
                    while (j >= from && pairs[2 * j] > start) {
                        pairs[2 * j + 2] = pairs[2 * j];
                        pairs[2 * j + 3] = pairs[2 * j + 1];
                        j--;
                    }
                    pairs[2 * j + 2] = start;
                    pairs[2 * j + 3] = end;
                }
                return;
            }
            int mid = (from + to) >>> 1;
            mergeSort(pairs, scratch, from, mid);
            mergeSort(pairs, scratch, mid, to);
            if (pairs[2 * (mid - 1)] <= pairs[2 * mid]) {
                return;
            }
            System.arraycopy(pairs, 2 * from, scratch, 2 * from, 2 * (to - from));
            int i = from;
            int j = mid;
            int k = from;
            while (i < mid && j < to) {
                if (scratch[2 * j] < scratch[2 * i]) {
                    pairs[2 * k] = scratch[2 * j];
                    pairs[2 * k + 1] = scratch[2 * j + 1];
                    j++;
                } else {
                    pairs[2 * k] = scratch[2 * i];
                    pairs[2 * k + 1] = scratch[2 * i + 1];
                    i++;
                }
                k++;
            }
            while (i < mid) {
                pairs[2 * k] = scratch[2 * i];
                pairs[2 * k + 1] = scratch[2 * i + 1];
                i++;
                k++;
            }
            while (j < to) {
                pairs[2 * k] = scratch[2 * j];
                pairs[2 * k + 1] = scratch[2 * j + 1];
                j++;
                k++;
            }
        }
    }
}
