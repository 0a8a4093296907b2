package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.LongConsumer;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;

/**
 * Streams the XVA tar laid out by a {@link TarPlan}, whole or any byte range of it, forward only.
 * Only DATA bytes of present chunks are read from the source; the rest of a present chunk is zero.
 * Header blocks are built here (deterministically, see {@link TarHeader}) rather than by
 * commons-compress, because a range must be producible without producing what comes before it.
 *
 * <p>Not thread-safe (one reusable chunk buffer); open one writer per concurrent range.
 */
public final class TarWriter {
    private static final byte[] ZERO_BLOCK = new byte[TarHeader.BLOCK];

    private final TarPlan plan;
    private final BlockSource source;
    private final byte[] chunk;
    private final byte[] header = new byte[TarHeader.BLOCK];
    private long bufferedChunk = -1;
    private String bufferedChecksum;
    private LongConsumer progress = bytes -> {};

    public TarWriter(TarPlan plan, BlockSource source) throws IOException {
        this.plan = Objects.requireNonNull(plan, "plan");
        this.source = Objects.requireNonNull(source, "source");
        if (source.size() < plan.virtualSize()) {
            throw new IllegalArgumentException(
                    "source is " + source.size() + " bytes but the plan covers " + plan.virtualSize());
        }
        this.chunk = new byte[(int) Math.min(plan.chunkSize(), Math.max(1, plan.virtualSize()))];
    }

    /** Called with the number of stream bytes written so far by the current call. */
    public TarWriter progress(LongConsumer consumer) {
        this.progress = Objects.requireNonNull(consumer, "consumer");
        return this;
    }

    /** The exact length of the whole stream. */
    public long length() {
        return plan.length();
    }

    /** Writes the whole tar to {@code out}. Does not close it. */
    public void writeTo(OutputStream out) throws IOException {
        writeRange(0, length(), out);
    }

    /** Writes bytes {@code [from, to)} of the tar to {@code out}. Does not close it. */
    public void writeRange(long from, long to, OutputStream out) throws IOException {
        RawWriter.checkRange(from, to, length());
        Emitter emitter = new Emitter(from, to, out);
        long entries = plan.presentChunks();
        long entrySize = TarPlan.entrySize(plan.chunkSize());
        long entry = Math.min(from / entrySize, entries);
        for (; entry < entries && plan.entryStart(entry) < to; entry++) {
            writeEntry(entry, emitter);
        }
        long trailer = plan.trailerStart();
        emitter.zeros(trailer, 2L * TarHeader.BLOCK);
    }

    private void writeEntry(long entry, Emitter emitter) throws IOException {
        long index = plan.chunkIndex(entry);
        int length = plan.chunkLength(index);
        long start = plan.entryStart(entry);
        String name = plan.chunkName(index);
        long dataStart = start + TarHeader.BLOCK;
        long checksumHeaderStart = dataStart + TarPlan.padded(length);
        long checksumStart = checksumHeaderStart + TarHeader.BLOCK;
        long entryEnd = checksumStart + TarHeader.BLOCK;
        if (!emitter.touches(start, entryEnd)) {
            return;
        }
        if (emitter.touches(start, dataStart)) {
            TarHeader.write(header, 0, name, length, plan.mtimeSeconds());
            emitter.bytes(start, header, TarHeader.BLOCK);
        }
        if (emitter.touches(dataStart, dataStart + length) || emitter.touches(checksumStart, entryEnd)) {
            loadChunk(index, length);
        }
        emitter.bytes(dataStart, chunk, length);
        emitter.zeros(dataStart + length, checksumHeaderStart - dataStart - length);
        if (emitter.touches(checksumHeaderStart, checksumStart)) {
            TarHeader.write(
                    header,
                    0,
                    name + plan.checksum().extension(),
                    plan.checksum().textLength(),
                    plan.mtimeSeconds());
            emitter.bytes(checksumHeaderStart, header, TarHeader.BLOCK);
        }
        if (emitter.touches(checksumStart, entryEnd)) {
            byte[] text = bufferedChecksum.getBytes(StandardCharsets.US_ASCII);
            emitter.bytes(checksumStart, text, text.length);
            emitter.zeros(checksumStart + text.length, TarHeader.BLOCK - text.length);
        }
    }

    /** Fills {@code chunk[0, length)} with chunk {@code index}: DATA read, the rest zero. */
    private void loadChunk(long index, int length) throws IOException {
        if (bufferedChunk == index) {
            return;
        }
        bufferedChunk = -1;
        long chunkStart = index * plan.chunkSize();
        long chunkEnd = chunkStart + length;
        ExtentSet data = plan.data();
        int position = 0;
        for (int i = data.indexOfExtentContainingOrAfter(chunkStart);
                i < data.size() && data.start(i) < chunkEnd;
                i++) {
            int readStart = (int) (Math.max(data.start(i), chunkStart) - chunkStart);
            int readEnd = (int) (Math.min(data.end(i), chunkEnd) - chunkStart);
            Arrays.fill(chunk, position, readStart, (byte) 0);
            source.readFully(chunkStart + readStart, ByteBuffer.wrap(chunk, readStart, readEnd - readStart));
            position = readEnd;
        }
        Arrays.fill(chunk, position, length, (byte) 0);
        bufferedChecksum = plan.checksum().compute(chunk, length);
        bufferedChunk = index;
    }

    /** Writes the parts of stream pieces that fall inside [from, to). */
    private final class Emitter {
        private final long from;
        private final long to;
        private final OutputStream out;
        private long written;

        Emitter(long from, long to, OutputStream out) {
            this.from = from;
            this.to = to;
            this.out = out;
        }

        boolean touches(long start, long end) {
            return start < to && end > from && start < end;
        }

        /** The piece {@code bytes[0, length)} sits at stream offset {@code at}. */
        void bytes(long at, byte[] bytes, int length) throws IOException {
            if (!touches(at, at + length)) {
                return;
            }
            int skip = (int) Math.max(0, from - at);
            int end = (int) Math.min(length, to - at);
            out.write(bytes, skip, end - skip);
            advance(end - skip);
        }

        void zeros(long at, long length) throws IOException {
            long start = Math.max(at, from);
            long end = Math.min(at + length, to);
            while (start < end) {
                int piece = (int) Math.min(ZERO_BLOCK.length, end - start);
                out.write(ZERO_BLOCK, 0, piece);
                advance(piece);
                start += piece;
            }
        }

        private void advance(long bytes) {
            written += bytes;
            progress.accept(written);
        }
    }
}
