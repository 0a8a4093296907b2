package org.thinsr.vhdstream;

import java.util.Arrays;
import java.util.Objects;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * The layout of an XVA tar disk stream (xapi {@code stream_vdi.ml}, {@code /export_raw_vdi?format=tar}),
 * fixed before the first byte: which chunks are present, where each entry starts, the exact length.
 *
 * <pre>
 * for each present chunk c (ascending), L = min(chunkSize, size - c * chunkSize):
 *   512      ustar header  name = prefix + "%08d"(c), size L
 *   pad(L)   chunk bytes, zero-padded to a multiple of 512
 *   512      ustar header  name = prefix + "%08d"(c) + ".xxhash" | ".checksum"
 *   512      checksum text (16 or 40 ASCII bytes), zero-padded
 * 1024       end of archive: two zero blocks
 * </pre>
 *
 * <p>Present chunks: every chunk holding a byte of a DATA run, plus chunk 0 and the last chunk
 * (always written, "a limitation of the XVA format"). Chunks with only ZERO or HOLE runs are
 * skipped and never read; a gap of k in the counter means k zero chunks. Every entry but the last
 * has the same size, so entry k starts at {@code k * entrySize} and any byte range can be produced
 * on its own. Immutable and thread-safe.
 */
public final class TarPlan {
    /** xapi's chunk size: 1 MiB. */
    public static final int DEFAULT_CHUNK_SIZE = 1 << 20;
    /** The counter is printed with {@code %08d} and compared as a string by xapi: 8 digits at most. */
    static final long MAX_CHUNKS = 100_000_000L;

    private final long virtualSize;
    private final int chunkSize;
    private final String prefix;
    private final TarChecksum checksum;
    private final long mtimeSeconds;
    private final ExtentSet data;
    /** Present chunks as runs of chunk indices: run i is [runStarts[i], runStarts[i] + runLengths[i]). */
    private final long[] runStarts;
    /** Number of present chunks before run i. */
    private final long[] countBefore;

    private final long presentChunks;

    private TarPlan(
            long virtualSize,
            int chunkSize,
            String prefix,
            TarChecksum checksum,
            long mtimeSeconds,
            ExtentSet data,
            long[] runStarts,
            long[] countBefore,
            long presentChunks) {
        this.virtualSize = virtualSize;
        this.chunkSize = chunkSize;
        this.prefix = prefix;
        this.checksum = checksum;
        this.mtimeSeconds = mtimeSeconds;
        this.data = data;
        this.runStarts = runStarts;
        this.countBefore = countBefore;
        this.presentChunks = presentChunks;
    }

    /**
     * Plans the tar of a disk: chunks of {@code chunkSize} bytes named {@code prefix + "%08d"}.
     *
     * @param map the disk's allocation map; DATA runs are the bytes to send
     * @param prefix the entry-name prefix, for example {@code "vdi/"} or {@code "Ref:12/"}; ASCII,
     *     at most 80 bytes
     * @param checksum the companion kind
     * @param chunkSize a multiple of 512 in [512, 64 MiB]; xapi uses {@link #DEFAULT_CHUNK_SIZE}
     * @param mtimeSeconds the mtime of every entry (part of the bytes: keep it fixed for ranges)
     * @throws ThinsrException UNSUPPORTED when the disk needs more than 10^8 chunks
     */
    public static TarPlan plan(
            AllocationMap map, String prefix, TarChecksum checksum, int chunkSize, long mtimeSeconds) {
        return plan(map, prefix, checksum, chunkSize, mtimeSeconds, false);
    }

    /**
     * Plans a delta tar: {@code changed} marks as DATA the bytes that differ from the base (see
     * {@link RawDelta}); everything else is unchanged, not zero. So the chunks the format forces
     * (first and last) carry the disk's real bytes, read from the source. Apply the result with
     * {@link TarReader.Target#DELTA_BASE}.
     */
    public static TarPlan planDelta(
            AllocationMap changed, String prefix, TarChecksum checksum, int chunkSize, long mtimeSeconds) {
        return plan(changed, prefix, checksum, chunkSize, mtimeSeconds, true);
    }

    private static TarPlan plan(
            AllocationMap map, String prefix, TarChecksum checksum, int chunkSize, long mtimeSeconds, boolean delta) {
        Objects.requireNonNull(map, "map");
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(checksum, "checksum");
        if (chunkSize < 512 || chunkSize > RawZeroScan.MAX_GRANULARITY || chunkSize % 512 != 0) {
            throw new IllegalArgumentException(
                    "chunk size: actual " + chunkSize + ", expected a multiple of 512 in [512, 64 MiB]");
        }
        if (prefix.length() > 80 || !prefix.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            throw new IllegalArgumentException("tar prefix must be at most 80 printable ASCII characters: " + prefix);
        }
        if (mtimeSeconds < 0 || mtimeSeconds > TarHeader.MAX_OCTAL_SIZE) {
            throw new IllegalArgumentException("mtime out of range: " + mtimeSeconds);
        }
        long size = map.virtualSize();
        long chunkCount = size == 0 ? 0 : (size - 1) / chunkSize + 1;
        if (chunkCount > MAX_CHUNKS) {
            throw new ThinsrException(
                    org.thinsr.allocmap.ErrorCode.UNSUPPORTED,
                    "disk of " + size + " bytes needs " + chunkCount + " tar chunks of " + chunkSize
                            + " bytes; the XVA format counts at most " + MAX_CHUNKS);
        }
        ExtentSet data = map.nonZeroExtents();
        ExtentSet.Builder chunks = ExtentSet.builder();
        if (chunkCount > 0) {
            chunks.add(0, 1);
            chunks.add(chunkCount - 1, chunkCount);
        }
        ExtentSet aligned = data.alignOut(chunkSize);
        for (int i = 0; i < aligned.size(); i++) {
            chunks.add(aligned.start(i) / chunkSize, Math.min(chunkCount, aligned.end(i) / chunkSize));
        }
        ExtentSet present = chunks.build();
        if (delta && chunkCount > 0) {
            data = data.union(ExtentSet.of(0, Math.min(size, chunkSize)))
                    .union(ExtentSet.of((chunkCount - 1) * chunkSize, size));
        }
        long[] runStarts = new long[present.size() + 1];
        long[] countBefore = new long[present.size() + 1];
        long count = 0;
        for (int i = 0; i < present.size(); i++) {
            runStarts[i] = present.start(i);
            countBefore[i] = count;
            count += present.end(i) - present.start(i);
        }
        runStarts[present.size()] = chunkCount;
        countBefore[present.size()] = count;
        return new TarPlan(size, chunkSize, prefix, checksum, mtimeSeconds, data, runStarts, countBefore, count);
    }

    /** {@link #plan(AllocationMap, String, TarChecksum, int, long)} with xapi's 1 MiB chunks. */
    public static TarPlan plan(AllocationMap map, String prefix, TarChecksum checksum, long mtimeSeconds) {
        return plan(map, prefix, checksum, DEFAULT_CHUNK_SIZE, mtimeSeconds);
    }

    public long virtualSize() {
        return virtualSize;
    }

    public int chunkSize() {
        return chunkSize;
    }

    public String prefix() {
        return prefix;
    }

    public TarChecksum checksum() {
        return checksum;
    }

    long mtimeSeconds() {
        return mtimeSeconds;
    }

    /** DATA extents of the disk: the only bytes read from the source. */
    ExtentSet data() {
        return data;
    }

    /** Number of chunks written (each with its checksum companion). */
    public long presentChunks() {
        return presentChunks;
    }

    /** Bytes of disk data carried (unpadded chunk lengths). */
    public long payloadBytes() {
        if (presentChunks == 0) {
            return 0;
        }
        return (presentChunks - 1) * chunkSize + chunkLength(chunkIndex(presentChunks - 1));
    }

    /** The chunk index of present entry {@code entry}, in {@code [0, presentChunks())}. */
    long chunkIndex(long entry) {
        Objects.checkIndex(entry, presentChunks);
        int run = Arrays.binarySearch(countBefore, 0, countBefore.length - 1, entry);
        if (run < 0) {
            run = -run - 2;
        } else {
            while (run + 1 < countBefore.length - 1 && countBefore[run + 1] == entry) {
                run++;
            }
        }
        return runStarts[run] + (entry - countBefore[run]);
    }

    /** Length of chunk {@code index}: the chunk size, or what is left of the disk for the last. */
    int chunkLength(long index) {
        return (int) Math.min(chunkSize, virtualSize - index * chunkSize);
    }

    /** The entry name of chunk {@code index}. */
    String chunkName(long index) {
        return prefix + String.format("%08d", index);
    }

    /** Bytes of one entry (both headers, padded data, padded checksum) for a chunk of {@code length}. */
    static long entrySize(long length) {
        return TarHeader.BLOCK + padded(length) + 2L * TarHeader.BLOCK;
    }

    static long padded(long length) {
        return (length + TarHeader.BLOCK - 1) / TarHeader.BLOCK * TarHeader.BLOCK;
    }

    /** Stream offset of present entry {@code entry} (all entries but the last have the same size). */
    long entryStart(long entry) {
        return Math.multiplyExact(entry, entrySize(chunkSize));
    }

    /** Stream offset of the end-of-archive blocks. */
    long trailerStart() {
        if (presentChunks == 0) {
            return 0;
        }
        return entryStart(presentChunks - 1) + entrySize(chunkLength(chunkIndex(presentChunks - 1)));
    }

    /** The exact length of the tar stream in bytes. */
    public long length() {
        return trailerStart() + 2L * TarHeader.BLOCK;
    }

    @Override
    public String toString() {
        return "TarPlan[size=" + virtualSize + ", chunkSize=" + chunkSize + ", prefix=" + prefix + ", " + checksum
                + ", chunks=" + presentChunks + ", length=" + length() + "]";
    }
}
