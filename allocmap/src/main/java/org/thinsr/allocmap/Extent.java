package org.thinsr.allocmap;

/**
 * A half-open byte range {@code [start, end)} of a virtual disk.
 *
 * <p>Both bounds are byte offsets; {@code 0 <= start <= end}. An extent with {@code start == end}
 * is empty. Hot paths use {@link ExtentSet}'s primitive accessors instead of this record.
 */
public record Extent(long start, long end) implements Comparable<Extent> {
    public Extent {
        if (start < 0) {
            throw new IllegalArgumentException("start is negative: " + start);
        }
        if (end < start) {
            throw new IllegalArgumentException("end " + end + " is before start " + start);
        }
    }

    /** The extent {@code [start, start + length)}; throws when the end would overflow a long. */
    public static Extent ofLength(long start, long length) {
        if (length < 0) {
            throw new IllegalArgumentException("length is negative: " + length);
        }
        return new Extent(start, Math.addExact(start, length));
    }

    public long length() {
        return end - start;
    }

    public boolean isEmpty() {
        return start == end;
    }

    public boolean contains(long offset) {
        return offset >= start && offset < end;
    }

    @Override
    public int compareTo(Extent other) {
        int byStart = Long.compare(start, other.start);
        return byStart != 0 ? byStart : Long.compare(end, other.end);
    }

    @Override
    public String toString() {
        return "[" + start + ", " + end + ")";
    }
}
