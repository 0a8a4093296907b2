package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.function.LongConsumer;
import org.thinsr.allocmap.BlockSink;

/**
 * Reads xapi's "chunked" framing (see {@link ChunkedEncoder} for the layout) into a {@link
 * BlockSink}, as a state machine {@code HEADER -> DATA -> HEADER ... -> TERMINATOR -> END}.
 * Chunks may come in any order and overlap (later writes win); a zero-length chunk at a non-zero
 * offset is a no-op; offset 0 with length 0 is the terminator. Bytes not covered by any chunk are
 * left as they are in the sink.
 *
 * <p>Bounded: a chunk longer than {@code maxChunk} or reaching past the sink size is rejected
 * before any of its bytes are read; data is copied through one buffer of at most 1 MiB. Missing
 * terminator and bytes after it are errors. Damage throws {@link CorruptImageException} with the
 * stream offset, field, actual and expected value. Not thread-safe.
 */
public final class ChunkedDecoder {
    /** Default bound on one chunk: 64 MiB (xapi tools send at most 2 MiB). */
    public static final int DEFAULT_MAX_CHUNK = 64 << 20;

    private static final int COPY_BUFFER = 1 << 20;

    private final int maxChunk;
    private LongConsumer progress = bytes -> {};

    /** @param maxChunk bound on one chunk's length, in [1, 2^31) */
    public ChunkedDecoder(int maxChunk) {
        if (maxChunk < 1) {
            throw new IllegalArgumentException("max chunk is not positive: " + maxChunk);
        }
        this.maxChunk = maxChunk;
    }

    public ChunkedDecoder() {
        this(DEFAULT_MAX_CHUNK);
    }

    /** Called with the number of stream bytes consumed so far. */
    public ChunkedDecoder progress(LongConsumer consumer) {
        this.progress = Objects.requireNonNull(consumer, "consumer");
        return this;
    }

    /**
     * Reads the stream up to its terminator, then requires the end of input.
     *
     * @return the highest disk offset written (end of the furthest chunk)
     * @throws CorruptImageException on a malformed, truncated or oversized stream
     */
    public long decode(InputStream in, BlockSink sink) throws IOException {
        long limit = sink.size();
        byte[] headerBytes = new byte[ChunkedEncoder.HEADER];
        ByteBuffer header = ByteBuffer.wrap(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
        byte[] buffer = null;
        long position = 0;
        long highWater = 0;
        while (true) {
            int got = in.readNBytes(headerBytes, 0, ChunkedEncoder.HEADER);
            if (got != ChunkedEncoder.HEADER) {
                throw CorruptImageException.at(
                        position + got,
                        "chunk header",
                        got == 0 ? "end of input" : "end of input after " + got + " of 12 bytes",
                        "a 12-byte chunk header or the 12-byte zero terminator");
            }
            long offset = header.getLong(0);
            long length = Integer.toUnsignedLong(header.getInt(8));
            if (offset == 0 && length == 0) {
                position += ChunkedEncoder.HEADER;
                break;
            }
            if (offset < 0) {
                throw CorruptImageException.at(
                        position, "chunk disk offset", Long.toUnsignedString(offset), "below 2^63");
            }
            if (length > maxChunk) {
                throw CorruptImageException.at(position + 8, "chunk length", length, "at most " + maxChunk);
            }
            if (offset > limit - length) {
                throw CorruptImageException.at(
                        position,
                        "chunk end on the disk (offset " + offset + " + length " + length + ")",
                        Math.addExact(offset, length),
                        "at most the disk size " + limit);
            }
            position += ChunkedEncoder.HEADER;
            if (buffer == null && length > 0) {
                buffer = new byte[(int) Math.min(COPY_BUFFER, Math.max(length, 4096))];
            }
            long done = 0;
            while (done < length) {
                if (buffer.length < Math.min(COPY_BUFFER, length - done)) {
                    buffer = new byte[COPY_BUFFER];
                }
                int piece = (int) Math.min(buffer.length, length - done);
                int read = in.readNBytes(buffer, 0, piece);
                if (read != piece) {
                    throw CorruptImageException.at(
                            position + read,
                            "chunk data at disk offset " + offset,
                            "end of input after " + (done + read) + " bytes",
                            length + " bytes");
                }
                if (RawZeroScan.isAllZero(buffer, 0, piece)) {
                    sink.writeZeroes(offset + done, piece);
                } else {
                    sink.write(offset + done, ByteBuffer.wrap(buffer, 0, piece));
                }
                done += piece;
                position += piece;
            }
            highWater = Math.max(highWater, offset + length);
            progress.accept(position);
        }
        int extra = in.read();
        if (extra >= 0) {
            throw CorruptImageException.at(
                    position, "byte after the terminator", "0x" + Integer.toHexString(extra), "end of input");
        }
        progress.accept(position);
        return highWater;
    }
}
