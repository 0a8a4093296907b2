package org.thinsr.allocmap;

import java.io.IOException;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The difference between two thin devices of one pool, as {@code thin_delta --snap1 LEFT --snap2
 * RIGHT} reports it: runs of origin blocks that are mapped to the same data block on both sides
 * ({@link Kind#SAME}), to different data blocks ({@link Kind#DIFFERENT}), or on one side only
 * ({@link Kind#LEFT_ONLY}, {@link Kind#RIGHT_ONLY}). Blocks mapped on neither side are in no run.
 *
 * <p>{@link #runs()} has the granularity of {@code thin_delta --verbose}: a run ends where its kind
 * changes or where a side's data blocks stop being contiguous, and carries the data blocks. {@link
 * #terseRuns()} merges adjacent runs of one kind, as plain {@code thin_delta} prints them. A delta
 * parsed from terse output has no data blocks ({@code -1}).
 *
 * <p>Runs are stored in primitive arrays. Immutable and thread-safe.
 */
public final class ThinDelta {
    /** What a run of origin blocks is, comparing the left device with the right one. */
    public enum Kind {
        SAME,
        DIFFERENT,
        LEFT_ONLY,
        RIGHT_ONLY;

        /** The element name {@code thin_delta} uses: {@code same}, {@code different}, ... */
        public String label() {
            return switch (this) {
                case SAME -> "same";
                case DIFFERENT -> "different";
                case LEFT_ONLY -> "left_only";
                case RIGHT_ONLY -> "right_only";
            };
        }

        byte code() {
            return switch (this) {
                case SAME -> 0;
                case DIFFERENT -> 1;
                case LEFT_ONLY -> 2;
                case RIGHT_ONLY -> 3;
            };
        }

        static Kind ofCode(byte code) {
            return switch (code) {
                case 0 -> SAME;
                case 1 -> DIFFERENT;
                case 2 -> LEFT_ONLY;
                case 3 -> RIGHT_ONLY;
                default -> throw new IllegalArgumentException("unknown run kind code " + code);
            };
        }

        boolean hasLeft() {
            return switch (this) {
                case SAME, DIFFERENT, LEFT_ONLY -> true;
                case RIGHT_ONLY -> false;
            };
        }

        boolean hasRight() {
            return switch (this) {
                case SAME, DIFFERENT, RIGHT_ONLY -> true;
                case LEFT_ONLY -> false;
            };
        }
    }

    /**
     * One run of origin blocks {@code [begin, begin + length)}.
     *
     * @param leftDataBegin the left device's first data block, -1 when the left side has none or
     *     the run came from terse output
     * @param rightDataBegin the same for the right device
     */
    public record Run(Kind kind, long begin, long length, long leftDataBegin, long rightDataBegin) {
        public Run {
            Objects.requireNonNull(kind, "kind");
            if (begin < 0 || length < 1 || begin > Long.MAX_VALUE - length) {
                throw new IllegalArgumentException("run [" + begin + ", +" + length + ") is not a run of blocks");
            }
            if (leftDataBegin < -1 || rightDataBegin < -1) {
                throw new IllegalArgumentException(
                        "data begin is below -1: left " + leftDataBegin + ", right " + rightDataBegin);
            }
            if ((!kind.hasLeft() && leftDataBegin != -1) || (!kind.hasRight() && rightDataBegin != -1)) {
                throw new IllegalArgumentException(kind.label() + " run has a data block on a side it does not map");
            }
        }

        public long end() {
            return begin + length;
        }
    }

    private final long leftDevId;
    private final long rightDevId;
    private final long dataBlockSizeBytes;
    private final byte[] kinds;
    private final long[] begins;
    private final long[] lengths;
    private final long[] leftData;
    private final long[] rightData;

    private ThinDelta(Builder builder) {
        this.leftDevId = builder.leftDevId;
        this.rightDevId = builder.rightDevId;
        this.dataBlockSizeBytes = builder.dataBlockSizeBytes;
        int count = builder.count;
        this.kinds = Arrays.copyOf(builder.kinds, count);
        this.begins = Arrays.copyOf(builder.begins, count);
        this.lengths = Arrays.copyOf(builder.lengths, count);
        this.leftData = Arrays.copyOf(builder.leftData, count);
        this.rightData = Arrays.copyOf(builder.rightData, count);
    }

    /**
     * Computes the delta of {@code left} against {@code right} with one linear merge over both
     * mapping arrays (no per-block work).
     *
     * @throws IllegalArgumentException when the devices have different block sizes
     */
    public static ThinDelta compute(ThinDevice left, ThinDevice right) {
        if (left.dataBlockSizeBytes() != right.dataBlockSizeBytes()) {
            throw new IllegalArgumentException("devices of different pools: block sizes " + left.dataBlockSizeBytes()
                    + " and " + right.dataBlockSizeBytes() + " bytes");
        }
        MappingRuns l = left.runs();
        MappingRuns r = right.runs();
        Builder out = new Builder(left.devId(), right.devId(), left.dataBlockSizeBytes(), true);
        int i = 0;
        int j = 0;
        long position = 0;
        int leftCount = l.count();
        int rightCount = r.count();
        while (i < leftCount || j < rightCount) {
            long leftStart = i < leftCount ? Math.max(l.origin(i), position) : Long.MAX_VALUE;
            long rightStart = j < rightCount ? Math.max(r.origin(j), position) : Long.MAX_VALUE;
            long leftEnd = i < leftCount ? l.origin(i) + l.length(i) : Long.MAX_VALUE;
            long rightEnd = j < rightCount ? r.origin(j) + r.length(j) : Long.MAX_VALUE;
            long start = Math.min(leftStart, rightStart);
            boolean inLeft = leftStart == start;
            boolean inRight = rightStart == start;
            long end;
            Kind kind;
            if (inLeft && inRight) {
                end = Math.min(leftEnd, rightEnd);
                kind = l.data(i) - l.origin(i) == r.data(j) - r.origin(j) ? Kind.SAME : Kind.DIFFERENT;
            } else if (inLeft) {
                end = Math.min(leftEnd, rightStart);
                kind = Kind.LEFT_ONLY;
            } else {
                end = Math.min(rightEnd, leftStart);
                kind = Kind.RIGHT_ONLY;
            }
            long leftDataBegin = inLeft ? l.data(i) + (start - l.origin(i)) : -1;
            long rightDataBegin = inRight ? r.data(j) + (start - r.origin(j)) : -1;
            out.add(kind, start, end - start, leftDataBegin, rightDataBegin);
            position = end;
            if (inLeft && end == leftEnd) {
                i++;
            }
            if (inRight && end == rightEnd) {
                j++;
            }
        }
        return out.build();
    }

    public long leftDevId() {
        return leftDevId;
    }

    public long rightDevId() {
        return rightDevId;
    }

    /** The pool's block size in bytes. */
    public long dataBlockSizeBytes() {
        return dataBlockSizeBytes;
    }

    public int runCount() {
        return kinds.length;
    }

    public Run run(int index) {
        return new Run(Kind.ofCode(kinds[index]), begins[index], lengths[index], leftData[index], rightData[index]);
    }

    /** The runs, at {@code --verbose} granularity when computed (allocates one record per get). */
    public List<Run> runs() {
        return new AbstractList<>() {
            @Override
            public Run get(int index) {
                return run(index);
            }

            @Override
            public int size() {
                return runCount();
            }
        };
    }

    /** Adjacent runs of one kind merged, without data blocks: what plain {@code thin_delta} prints. */
    public List<Run> terseRuns() {
        Builder terse = new Builder(leftDevId, rightDevId, dataBlockSizeBytes, false);
        for (int i = 0; i < kinds.length; i++) {
            terse.add(Kind.ofCode(kinds[i]), begins[i], lengths[i], -1, -1);
        }
        return terse.build().runs();
    }

    /**
     * Writes the delta as {@code thin_delta} 0.9 prints it (terse, or {@code --verbose} with data
     * blocks), byte for byte, under the given pool superblock.
     *
     * @throws IllegalStateException for {@code verbose} when the runs have no data blocks (a delta
     *     parsed from terse output)
     */
    public void writeXml(ThinSuperblock superblock, boolean verbose, Appendable out) throws IOException {
        out.append("<superblock uuid=\"")
                .append(escape(superblock.uuid()))
                .append("\" time=\"")
                .append(Long.toString(superblock.time()))
                .append("\" transaction=\"")
                .append(Long.toString(superblock.transaction()))
                .append("\" data_block_size=\"")
                .append(Long.toString(superblock.dataBlockSizeSectors()))
                .append("\" nr_data_blocks=\"")
                .append(Long.toString(superblock.nrDataBlocks()))
                .append("\">\n  <diff left=\"")
                .append(Long.toString(leftDevId))
                .append("\" right=\"")
                .append(Long.toString(rightDevId))
                .append("\">\n");
        if (verbose) {
            Kind open = null;
            for (int i = 0; i < kinds.length; i++) {
                Kind kind = Kind.ofCode(kinds[i]);
                if ((kind.hasLeft() && leftData[i] < 0) || (kind.hasRight() && rightData[i] < 0)) {
                    throw new IllegalStateException(
                            "run " + i + " has no data blocks: a terse delta cannot be" + " written verbose");
                }
                if (kind != open) {
                    if (open != null) {
                        out.append("    </").append(open.label()).append(">\n");
                    }
                    out.append("    <").append(kind.label()).append(">\n");
                    open = kind;
                }
                out.append("      <range begin=\"").append(Long.toString(begins[i]));
                switch (kind) {
                    case SAME, LEFT_ONLY -> out.append("\" data_begin=\"").append(Long.toString(leftData[i]));
                    case RIGHT_ONLY -> out.append("\" data_begin=\"").append(Long.toString(rightData[i]));
                    case DIFFERENT ->
                        out.append("\" left_data_begin=\"")
                                .append(Long.toString(leftData[i]))
                                .append("\" right_data_begin=\"")
                                .append(Long.toString(rightData[i]));
                }
                out.append("\" length=\"").append(Long.toString(lengths[i])).append("\"/>\n");
            }
            if (open != null) {
                out.append("    </").append(open.label()).append(">\n");
            }
        } else {
            for (Run run : terseRuns()) {
                out.append("    <")
                        .append(run.kind().label())
                        .append(" begin=\"")
                        .append(Long.toString(run.begin()))
                        .append("\" length=\"")
                        .append(Long.toString(run.length()))
                        .append("\"/>\n");
            }
        }
        out.append("  </diff>\n</superblock>\n");
    }

    private static String escape(String text) {
        StringBuilder escaped = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> escaped.append("&amp;");
                case '<' -> escaped.append("&lt;");
                case '>' -> escaped.append("&gt;");
                case '"' -> escaped.append("&quot;");
                default -> escaped.append(c);
            }
        }
        return escaped.toString();
    }

    /** Origin blocks whose content differs: DIFFERENT, LEFT_ONLY and RIGHT_ONLY runs, in blocks. */
    public ExtentSet changedBlockExtents() {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int i = 0; i < kinds.length; i++) {
            if (Kind.ofCode(kinds[i]) != Kind.SAME) {
                builder.add(begins[i], begins[i] + lengths[i]);
            }
        }
        return builder.build();
    }

    /** The bytes of the thin volume whose content differs between the two devices. */
    public ExtentSet changedExtents() {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int i = 0; i < kinds.length; i++) {
            if (Kind.ofCode(kinds[i]) != Kind.SAME) {
                builder.add(
                        Math.multiplyExact(begins[i], dataBlockSizeBytes),
                        Math.multiplyExact(begins[i] + lengths[i], dataBlockSizeBytes));
            }
        }
        return builder.build();
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof ThinDelta other
                && leftDevId == other.leftDevId
                && rightDevId == other.rightDevId
                && dataBlockSizeBytes == other.dataBlockSizeBytes
                && Arrays.equals(kinds, other.kinds)
                && Arrays.equals(begins, other.begins)
                && Arrays.equals(lengths, other.lengths)
                && Arrays.equals(leftData, other.leftData)
                && Arrays.equals(rightData, other.rightData);
    }

    @Override
    public int hashCode() {
        return Objects.hash(leftDevId, rightDevId, Arrays.hashCode(begins), Arrays.hashCode(lengths));
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("ThinDelta[left=")
                .append(leftDevId)
                .append(", right=")
                .append(rightDevId);
        int shown = Math.min(runCount(), 16);
        for (int i = 0; i < shown; i++) {
            text.append(", ").append(run(i));
        }
        if (shown < runCount()) {
            text.append(", ... ").append(runCount() - shown).append(" more");
        }
        return text.append(']').toString();
    }

    /**
     * Collects runs in ascending order; adjacent runs of one kind are merged when {@code verbose} is
     * false, and only when their data blocks also continue each other when it is true.
     */
    static final class Builder {
        private final long leftDevId;
        private final long rightDevId;
        private final long dataBlockSizeBytes;
        private final boolean verbose;
        private byte[] kinds = new byte[16];
        private long[] begins = new long[16];
        private long[] lengths = new long[16];
        private long[] leftData = new long[16];
        private long[] rightData = new long[16];
        private int count;

        Builder(long leftDevId, long rightDevId, long dataBlockSizeBytes, boolean verbose) {
            this.leftDevId = leftDevId;
            this.rightDevId = rightDevId;
            this.dataBlockSizeBytes = dataBlockSizeBytes;
            this.verbose = verbose;
        }

        long end() {
            return count == 0 ? 0 : begins[count - 1] + lengths[count - 1];
        }

        void add(Kind kind, long begin, long length, long leftDataBegin, long rightDataBegin) {
            append(kind, begin, length, leftDataBegin, rightDataBegin, true);
        }

        /** Adds a run as it is, never merged with the previous one (for parsed output). */
        void addUnmerged(Kind kind, long begin, long length, long leftDataBegin, long rightDataBegin) {
            append(kind, begin, length, leftDataBegin, rightDataBegin, false);
        }

        private void append(
                Kind kind, long begin, long length, long leftDataBegin, long rightDataBegin, boolean merge) {
            byte code = kind.code();
            if (merge && count > 0) {
                int last = count - 1;
                long lastLength = lengths[last];
                if (kinds[last] == code
                        && begins[last] + lastLength == begin
                        && (!verbose
                                || (continues(leftData[last], lastLength, leftDataBegin)
                                        && continues(rightData[last], lastLength, rightDataBegin)))) {
                    lengths[last] += length;
                    return;
                }
            }
            if (count == kinds.length) {
                int capacity = count + (count >> 1);
                kinds = Arrays.copyOf(kinds, capacity);
                begins = Arrays.copyOf(begins, capacity);
                lengths = Arrays.copyOf(lengths, capacity);
                leftData = Arrays.copyOf(leftData, capacity);
                rightData = Arrays.copyOf(rightData, capacity);
            }
            kinds[count] = code;
            begins[count] = begin;
            lengths[count] = length;
            leftData[count] = leftDataBegin;
            rightData[count] = rightDataBegin;
            count++;
        }

        private static boolean continues(long previousBegin, long previousLength, long next) {
            return previousBegin == -1 ? next == -1 : previousBegin + previousLength == next;
        }

        ThinDelta build() {
            return new ThinDelta(this);
        }
    }
}
