package org.thinsr.qmpclient;

import java.util.Arrays;

/**
 * The block status of one meta context over a range: consecutive extents from {@link #start()},
 * each with the context's 32 status bits. Already clipped to the requested range, with equal
 * neighbours merged. Immutable.
 */
public final class BlockStatusExtents {
    private final String context;
    private final long start;
    private final long[] ends;
    private final int[] flags;

    BlockStatusExtents(String context, long start, long[] ends, int[] flags) {
        this.context = context;
        this.start = start;
        this.ends = ends;
        this.flags = flags;
    }

    /** The meta context name, e.g. {@code base:allocation}. */
    public String context() {
        return context;
    }

    public long start() {
        return start;
    }

    /** End of the last extent: how far this reply got (at most the end of the request). */
    public long end() {
        return ends.length == 0 ? start : ends[ends.length - 1];
    }

    public int count() {
        return ends.length;
    }

    public long start(int index) {
        return index == 0 ? start : ends[index - 1];
    }

    public long end(int index) {
        return ends[index];
    }

    public int flags(int index) {
        return flags[index];
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder(context).append('[');
        int shown = Math.min(count(), 8);
        for (int i = 0; i < shown; i++) {
            text.append(i == 0 ? "" : ", ")
                    .append(start(i))
                    .append('+')
                    .append(end(i) - start(i))
                    .append(':')
                    .append(flags[i]);
        }
        return text.append(count() > shown ? ", ...]" : "]").toString();
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof BlockStatusExtents other
                && context.equals(other.context)
                && start == other.start
                && Arrays.equals(ends, other.ends)
                && Arrays.equals(flags, other.flags);
    }

    @Override
    public int hashCode() {
        return context.hashCode() * 31 + Arrays.hashCode(ends);
    }
}
