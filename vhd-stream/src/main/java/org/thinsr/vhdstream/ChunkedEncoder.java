package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.function.LongConsumer;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;

/**
 * Writes xapi's "chunked" disk upload framing (vhd-tool {@code src/chunked.ml}, xapi {@code
 * sparse_encoding.ml}; the body of {@code PUT /import_raw_vdi?chunked}), planned from an allocation
 * map, forward only.
 *
 * <pre>
 * repeat for every piece of every sent extent, in ascending offset order:
 *   offset  8  u64 little-endian: disk offset of the data
 *   length  4  u32 little-endian: number of data bytes (1 .. maxChunk)
 *   data    length bytes
 * terminator: 12 zero bytes (offset 0, length 0)
 * </pre>
 *
 * <p>Sent extents are the DATA runs (a sparse upload: the receiver's other bytes stay as they are,
 * so a fresh target must read as zeros) or, with {@code full}, the whole disk. Each extent is cut
 * into pieces of at most {@code maxChunk} bytes from its start. Empty pieces are never written, so
 * the terminator is unambiguous. The length is exact before the first byte and any byte range can
 * be produced on its own. Not thread-safe.
 */
public final class ChunkedEncoder {
    /** xapi tools send pieces of at most 2 MiB. */
    public static final int DEFAULT_MAX_CHUNK = 2 << 20;

    static final int HEADER = 12;

    private final BlockSource source;
    private final ExtentSet extents;
    private final int maxChunk;
    /** Stream offset where extent i's first header starts; one more entry for the terminator. */
    private final long[] extentStreamStart;

    private final byte[] buffer;
    private LongConsumer progress = bytes -> {};

    /**
     * @param full send every byte of the disk (zeros included) instead of the DATA runs only
     * @param maxChunk largest piece, in [1, 64 MiB]
     */
    public ChunkedEncoder(AllocationMap map, BlockSource source, boolean full, int maxChunk) throws IOException {
        Objects.requireNonNull(map, "map");
        this.source = Objects.requireNonNull(source, "source");
        if (maxChunk < 1 || maxChunk > RawZeroScan.MAX_GRANULARITY) {
            throw new IllegalArgumentException("max chunk out of [1, 64 MiB]: " + maxChunk);
        }
        if (source.size() < map.virtualSize()) {
            throw new IllegalArgumentException(
                    "source is " + source.size() + " bytes but the map covers " + map.virtualSize());
        }
        this.maxChunk = maxChunk;
        this.extents = full ? ExtentSet.of(0, map.virtualSize()) : map.nonZeroExtents();
        this.extentStreamStart = new long[extents.size() + 1];
        long position = 0;
        for (int i = 0; i < extents.size(); i++) {
            extentStreamStart[i] = position;
            long length = extents.end(i) - extents.start(i);
            long pieces = (length - 1) / maxChunk + 1;
            position = Math.addExact(position, Math.addExact(length, Math.multiplyExact(pieces, HEADER)));
        }
        extentStreamStart[extents.size()] = position;
        this.buffer = new byte[Math.max(HEADER, (int) Math.min(maxChunk, Math.max(1, extents.totalLength())))];
    }

    /** A sparse encoder with 2 MiB pieces. */
    public ChunkedEncoder(AllocationMap map, BlockSource source) throws IOException {
        this(map, source, false, DEFAULT_MAX_CHUNK);
    }

    /** Called with the number of stream bytes written so far by the current call. */
    public ChunkedEncoder progress(LongConsumer consumer) {
        this.progress = Objects.requireNonNull(consumer, "consumer");
        return this;
    }

    /** The exact stream length, terminator included. */
    public long length() {
        return extentStreamStart[extents.size()] + HEADER;
    }

    /** Bytes of disk data carried. */
    public long payloadBytes() {
        return extents.totalLength();
    }

    public void writeTo(OutputStream out) throws IOException {
        writeRange(0, length(), out);
    }

    /** Writes bytes {@code [from, to)} of the stream to {@code out}. Does not close it. */
    public void writeRange(long from, long to, OutputStream out) throws IOException {
        RawWriter.checkRange(from, to, length());
        long written = 0;
        int extent = findExtent(from);
        ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        for (; extent < extents.size() && extentStreamStart[extent] < to; extent++) {
            long diskStart = extents.start(extent);
            long diskEnd = extents.end(extent);
            long pieceSize = (long) maxChunk + HEADER;
            long firstPiece = Math.max(0, (from - extentStreamStart[extent]) / pieceSize);
            for (long piece = firstPiece; ; piece++) {
                long pieceDisk = diskStart + piece * maxChunk;
                if (pieceDisk >= diskEnd) {
                    break;
                }
                long pieceStream = extentStreamStart[extent] + piece * pieceSize;
                if (pieceStream >= to) {
                    break;
                }
                int length = (int) Math.min(maxChunk, diskEnd - pieceDisk);
                header.clear();
                header.putLong(pieceDisk).putInt(length);
                written += emit(header.array(), HEADER, pieceStream, from, to, out);
                long dataStream = pieceStream + HEADER;
                long readFrom = Math.max(from, dataStream);
                long readTo = Math.min(to, dataStream + length);
                if (readFrom < readTo) {
                    int count = (int) (readTo - readFrom);
                    source.readFully(pieceDisk + (readFrom - dataStream), ByteBuffer.wrap(buffer, 0, count));
                    out.write(buffer, 0, count);
                    written += count;
                }
                progress.accept(written);
            }
        }
        long terminator = extentStreamStart[extents.size()];
        written += emit(new byte[HEADER], HEADER, terminator, from, to, out);
        progress.accept(written);
    }

    /** Index of the extent whose stream bytes contain {@code streamOffset} (or the count). */
    private int findExtent(long streamOffset) {
        int low = 0;
        int high = extents.size();
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (extentStreamStart[mid + 1] <= streamOffset) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        return low;
    }

    private static int emit(byte[] bytes, int length, long at, long from, long to, OutputStream out)
            throws IOException {
        long start = Math.max(at, from);
        long end = Math.min(at + length, to);
        if (start >= end) {
            return 0;
        }
        out.write(bytes, (int) (start - at), (int) (end - start));
        return (int) (end - start);
    }
}
