package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
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
 * so a fresh target must read as zeros) or, with {@code full}, the whole disk; or, for a copy plan,
 * DATA runs read from the source plus zero runs carried as chunks of zero bytes (the framing has no
 * zero command), without reading the source there. Each extent is cut into pieces of at most {@code
 * maxChunk} bytes from its start. Empty pieces are never written, so the terminator is unambiguous.
 * The length is exact before the first byte and any byte range can be produced on its own. Not
 * thread-safe.
 */
public final class ChunkedEncoder {
    /** xapi tools send pieces of at most 2 MiB. */
    public static final int DEFAULT_MAX_CHUNK = 2 << 20;

    static final int HEADER = 12;

    /** Told of the disk bytes each call carried, piece by piece, after they were written out. */
    @FunctionalInterface
    public interface PieceListener {
        /**
         * Bytes of one piece were written out.
         *
         * @param diskOffset where the carried bytes belong on the disk
         * @param length how many were written by this call (part of a piece when a range cuts it)
         * @param zeros the bytes belong to a zero run (not read from the source)
         */
        void written(long diskOffset, int length, boolean zeros);
    }

    private final BlockSource source;
    /** The sent extents, ascending and disjoint: [extentStart[i], extentEnd[i]). */
    private final long[] extentStart;

    private final long[] extentEnd;
    /** Whether extent i is a zero run, carried as zero bytes without reading the source. */
    private final boolean[] extentZero;

    private final int maxChunk;
    /** Stream offset where extent i's first header starts; one more entry for the terminator. */
    private final long[] extentStreamStart;

    private final long payloadBytes;
    private final byte[] buffer;
    private LongConsumer progress = bytes -> {};
    private PieceListener pieces = (diskOffset, length, zeros) -> {};

    /**
     * @param full send every byte of the disk (zeros included) instead of the DATA runs only
     * @param maxChunk largest piece, in [1, 64 MiB]
     */
    public ChunkedEncoder(AllocationMap map, BlockSource source, boolean full, int maxChunk) throws IOException {
        this(
                Objects.requireNonNull(map, "map").virtualSize(),
                full ? ExtentSet.of(0, map.virtualSize()) : map.nonZeroExtents(),
                ExtentSet.empty(),
                source,
                maxChunk);
    }

    /**
     * An encoder of a copy plan: the {@code data} extents are read from {@code source}, the {@code
     * zeros} extents are carried as chunks of zero bytes; both in one ascending sequence of chunks.
     *
     * @param virtualSize the disk size; both sets lie within it and the source is at least as large
     * @param data extents read from the source and sent
     * @param zeros extents sent as zero bytes, disjoint from {@code data}
     * @param maxChunk largest piece, in [1, 64 MiB]
     */
    public ChunkedEncoder(long virtualSize, ExtentSet data, ExtentSet zeros, BlockSource source, int maxChunk)
            throws IOException {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(zeros, "zeros");
        this.source = Objects.requireNonNull(source, "source");
        if (maxChunk < 1 || maxChunk > RawZeroScan.MAX_GRANULARITY) {
            throw new IllegalArgumentException("max chunk out of [1, 64 MiB]: " + maxChunk);
        }
        if (source.size() < virtualSize) {
            throw new IllegalArgumentException(
                    "source is " + source.size() + " bytes but the map covers " + virtualSize);
        }
        if ((!data.isEmpty() && data.max() > virtualSize) || (!zeros.isEmpty() && zeros.max() > virtualSize)) {
            throw new IllegalArgumentException("extents reach past the disk size " + virtualSize);
        }
        if (!data.intersection(zeros).isEmpty()) {
            throw new IllegalArgumentException("data and zero extents overlap: " + data.intersection(zeros));
        }
        this.maxChunk = maxChunk;
        int count = data.size() + zeros.size();
        this.extentStart = new long[count];
        this.extentEnd = new long[count];
        this.extentZero = new boolean[count];
        for (int i = 0, d = 0, z = 0; i < count; i++) {
            boolean zero = d == data.size() || (z < zeros.size() && zeros.start(z) < data.start(d));
            ExtentSet from = zero ? zeros : data;
            int index = zero ? z++ : d++;
            extentStart[i] = from.start(index);
            extentEnd[i] = from.end(index);
            extentZero[i] = zero;
        }
        this.extentStreamStart = new long[count + 1];
        long position = 0;
        for (int i = 0; i < count; i++) {
            extentStreamStart[i] = position;
            long length = extentEnd[i] - extentStart[i];
            long pieces = (length - 1) / maxChunk + 1;
            position = Math.addExact(position, Math.addExact(length, Math.multiplyExact(pieces, HEADER)));
        }
        extentStreamStart[count] = position;
        this.payloadBytes = data.totalLength() + zeros.totalLength();
        this.buffer = new byte[Math.max(HEADER, (int) Math.min(maxChunk, Math.max(1, payloadBytes)))];
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

    /** Called with the disk bytes carried by the current call, piece by piece. */
    public ChunkedEncoder pieces(PieceListener listener) {
        this.pieces = Objects.requireNonNull(listener, "listener");
        return this;
    }

    /** The exact stream length, terminator included. */
    public long length() {
        return extentStreamStart[extentStart.length] + HEADER;
    }

    /** Bytes of disk data carried (zero runs included). */
    public long payloadBytes() {
        return payloadBytes;
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
        for (; extent < extentStart.length && extentStreamStart[extent] < to; extent++) {
            long diskStart = extentStart[extent];
            long diskEnd = extentEnd[extent];
            boolean zero = extentZero[extent];
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
                    long diskOffset = pieceDisk + (readFrom - dataStream);
                    if (zero) {
                        Arrays.fill(buffer, 0, count, (byte) 0);
                    } else {
                        source.readFully(diskOffset, ByteBuffer.wrap(buffer, 0, count));
                    }
                    out.write(buffer, 0, count);
                    written += count;
                    pieces.written(diskOffset, count, zero);
                }
                progress.accept(written);
            }
        }
        long terminator = extentStreamStart[extentStart.length];
        written += emit(new byte[HEADER], HEADER, terminator, from, to, out);
        progress.accept(written);
    }

    /** Index of the extent whose stream bytes contain {@code streamOffset} (or the count). */
    private int findExtent(long streamOffset) {
        int low = 0;
        int high = extentStart.length;
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
