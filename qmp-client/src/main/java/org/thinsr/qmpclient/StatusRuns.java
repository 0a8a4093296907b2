package org.thinsr.qmpclient;

import java.util.Arrays;

/**
 * The block status of one meta context over a whole export: gap-free runs from 0 to {@link
 * #size()}, each with the context's 32 status bits, equal neighbours merged. Immutable.
 *
 * <p>Layout: run {@code i} is {@code [ends[i - 1], ends[i])} (the first starts at 0), with status
 * {@code flags[i]}: 12 bytes a run.
 */
public final class StatusRuns {
    private final String context;
    private final long[] ends;
    private final int[] flags;

    private StatusRuns(String context, long[] ends, int[] flags) {
        this.context = context;
        this.ends = ends;
        this.flags = flags;
    }

    public String context() {
        return context;
    }

    public long size() {
        return ends.length == 0 ? 0 : ends[ends.length - 1];
    }

    public int count() {
        return ends.length;
    }

    public long start(int index) {
        return index == 0 ? 0 : ends[index - 1];
    }

    public long end(int index) {
        return ends[index];
    }

    public int flags(int index) {
        return flags[index];
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof StatusRuns other
                && context.equals(other.context)
                && Arrays.equals(ends, other.ends)
                && Arrays.equals(flags, other.flags);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ends) * 31 + Arrays.hashCode(flags);
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
        return text.append(count() > shown ? ", ... " + (count() - shown) + " more]" : "]")
                .toString();
    }

    static Builder builder(String context) {
        return new Builder(context);
    }

    /** Appends runs in order from 0; merges equal neighbours. */
    static final class Builder {
        private final String context;
        private long[] ends = new long[64];
        private int[] flags = new int[64];
        private int count;

        private Builder(String context) {
            this.context = context;
        }

        long position() {
            return count == 0 ? 0 : ends[count - 1];
        }

        /** Covers {@code [position(), end)} with {@code status}; nothing when {@code end <= position()}. */
        void extendTo(long end, int status) {
            if (end <= position()) {
                return;
            }
            if (count > 0 && flags[count - 1] == status) {
                ends[count - 1] = end;
                return;
            }
            if (count == ends.length) {
                ends = Arrays.copyOf(ends, count * 2);
                flags = Arrays.copyOf(flags, count * 2);
            }
            ends[count] = end;
            flags[count] = status;
            count++;
        }

        StatusRuns build() {
            return new StatusRuns(context, Arrays.copyOf(ends, count), Arrays.copyOf(flags, count));
        }
    }
}
