package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * Writes a planned {@link VhdLayout} forward only, whole or any byte range of it, reading block data
 * through a {@link BlockSource} by position.
 *
 * <p>Each byte of the output is produced from the layout alone: the structure covering it (footer,
 * header, BAT, locator, bitmap, block data, trailing footer) is found by arithmetic, so {@code
 * write(out, a, b)} reads only the source bytes of {@code [a, b)} (HTTP {@code Range}, resume).
 * Block data the layout does not read (outside the map's DATA extents, or past the virtual size)
 * is written as zeros.
 *
 * <p>Not thread-safe: one writer per output; several writers may share a layout. Long ranges are
 * read by one helper thread (so the source must tolerate being read from a thread other than the
 * caller's, one thread at a time). The caller closes the source and the output.
 *
 * <p>From a {@link RawFileSource} into a {@link FileChannel} the block data is copied by the kernel
 * ({@code copy_file_range}) instead: no helper thread, no Java buffer for the data.
 */
public final class VhdWriter {
    /** Bytes read from the source and written per call. */
    static final int BUFFER_SIZE = 4 << 20;

    private final VhdLayout layout;
    private final BlockSource source;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_SIZE);
    private final ByteBuffer ones;
    private LongConsumer progress = bytes -> {};
    private long written;

    public VhdWriter(VhdLayout layout, BlockSource source) {
        this.layout = Objects.requireNonNull(layout, "layout");
        this.source = Objects.requireNonNull(source, "source");
        byte[] bitmap = new byte[layout.bitmapSize()];
        java.util.Arrays.fill(bitmap, (byte) 0xFF);
        this.ones = ByteBuffer.wrap(bitmap).asReadOnlyBuffer();
    }

    /**
     * Reports progress to {@code consumer}: the bytes of the current {@link #write} call written so
     * far, called from the writing thread after each piece.
     */
    public VhdWriter progress(LongConsumer consumer) {
        this.progress = Objects.requireNonNull(consumer, "consumer");
        return this;
    }

    /** Writes the whole image to {@code out}. */
    public void write(WritableByteChannel out) throws IOException {
        write(out, 0, layout.length());
    }

    /** Writes the whole image to {@code out} (not closed, not flushed). */
    public void write(OutputStream out) throws IOException {
        write(Channels.newChannel(out), 0, layout.length());
    }

    /**
     * Writes bytes {@code [start, end)} of the image to {@code out}. Ranges of 16 MiB or more are
     * pipelined: one helper thread reads the source into a few 4 MiB buffers while the calling
     * thread writes the previous ones (the source is still read by one thread at a time). From a
     * {@link RawFileSource} into a {@link FileChannel}, block data is copied in the kernel instead.
     * The output is written at its current position (a file channel's position advances).
     *
     * @throws IndexOutOfBoundsException unless {@code 0 <= start <= end <= layout.length()}
     * @throws java.io.EOFException when the source is shorter than the layout's virtual size
     */
    public void write(WritableByteChannel out, long start, long end) throws IOException {
        if (start < 0 || start > end || end > layout.length()) {
            throw new IndexOutOfBoundsException(
                    "range [" + start + ", " + end + ") outside [0, " + layout.length() + ")");
        }
        if (start < end && source.size() < layout.virtualSize()) {
            throw new ThinsrException(
                    ErrorCode.INVALID_ARGUMENT,
                    "source has " + source.size() + " bytes, the VHD plan " + layout.virtualSize());
        }
        written = 0;
        if (out instanceof FileChannel file && source instanceof RawFileSource raw) {
            writeTransferring(file, raw, start, end);
            return;
        }
        if (end - start < PIPELINE_THRESHOLD) {
            long position = start;
            while (position < end) {
                buffer.clear();
                position += fill(buffer, position, end);
                buffer.flip();
                writeFully(out, buffer);
            }
            return;
        }
        writePipelined(out, start, end);
    }

    /** Ranges at least this long are read by a helper thread while the caller writes. */
    static final long PIPELINE_THRESHOLD = 16L << 20;

    private static final int PIPELINE_BUFFERS = 3;

    private static final ByteBuffer END = ByteBuffer.allocate(0);

    private void writePipelined(WritableByteChannel out, long start, long end) throws IOException {
        BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(PIPELINE_BUFFERS);
        BlockingQueue<ByteBuffer> filled = new ArrayBlockingQueue<>(PIPELINE_BUFFERS + 1);
        free.add(buffer);
        for (int i = 1; i < PIPELINE_BUFFERS; i++) {
            free.add(ByteBuffer.allocateDirect(BUFFER_SIZE));
        }
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread reader = Thread.ofPlatform().name("vhd-writer-read").daemon().start(() -> {
            try {
                long position = start;
                while (position < end) {
                    ByteBuffer next = free.take();
                    next.clear();
                    position += fill(next, position, end);
                    next.flip();
                    filled.put(next);
                }
            } catch (Throwable e) {
                failure.set(e);
            } finally {
                filled.offer(END);
            }
        });
        try {
            while (true) {
                ByteBuffer next = filled.take();
                if (!next.isDirect()) { // END, the only heap buffer in the queue
                    break;
                }
                writeFully(out, next);
                free.put(next);
            }
            reader.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while writing a VHD");
        } finally {
            if (reader.isAlive()) {
                reader.interrupt();
                try {
                    reader.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        Throwable thrown = failure.get();
        if (thrown instanceof IOException io) {
            throw io;
        }
        if (thrown instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (thrown instanceof Error error) {
            throw error;
        }
        if (thrown != null) {
            throw new IOException("reading the VHD source failed", thrown);
        }
    }

    /**
     * File to file: block data is copied by the kernel ({@link RawFileSource#transferTo}, {@code
     * copy_file_range}), everything else (structures, zeros between the source's extents) is
     * gathered in {@link #buffer} and written between the copies; the output is written at its
     * position, forward only, as by the other paths.
     */
    private void writeTransferring(FileChannel out, RawFileSource raw, long start, long end) throws IOException {
        ByteBuffer pending = buffer.clear();
        MemorySegment pendingSegment = MemorySegment.ofBuffer(pending);
        long position = start;
        while (position < end) {
            VhdLayout.Span span = layout.span(position);
            long spanEnd = Math.min(end, span.end());
            if (span.part() != VhdLayout.Part.BLOCK_DATA) {
                if (pending.remaining() < spanEnd - position) {
                    flush(out, pending);
                }
                long filled = fill(pending, position, Math.min(spanEnd, position + pending.remaining()));
                position += filled;
                continue;
            }
            long within = position - span.start();
            long virtualStart =
                    span.block() < 0 ? within : (long) layout.presentBlock(span.block()) * layout.blockSize() + within;
            long virtualEnd = virtualStart + (spanEnd - position);
            long readableEnd = Math.min(virtualEnd, layout.virtualSize());
            ExtentSet read = virtualStart < readableEnd
                    ? layout.readExtents().clip(virtualStart, readableEnd)
                    : ExtentSet.empty();
            long cursor = virtualStart;
            for (int i = 0; i <= read.size(); i++) {
                long zeroEnd = i < read.size() ? read.start(i) : virtualEnd;
                while (cursor < zeroEnd) {
                    if (!pending.hasRemaining()) {
                        flush(out, pending);
                    }
                    int n = (int) Math.min(zeroEnd - cursor, pending.remaining());
                    pendingSegment.asSlice(pending.position(), n).fill((byte) 0);
                    pending.position(pending.position() + n);
                    cursor += n;
                }
                if (i < read.size()) {
                    flush(out, pending);
                    raw.transferTo(read.start(i), read.end(i) - read.start(i), out);
                    advance(read.end(i) - read.start(i));
                    cursor = read.end(i);
                }
            }
            position = spanEnd;
        }
        flush(out, pending);
    }

    /** Writes what {@code pending} holds and clears it. */
    private void flush(WritableByteChannel out, ByteBuffer pending) throws IOException {
        pending.flip();
        writeFully(out, pending);
        pending.clear();
    }

    /** Counts {@code bytes} more of the current write as done and reports them. */
    private void advance(long bytes) {
        written += bytes;
        progress.accept(written);
    }

    /**
     * Fills {@code target} from its position with image bytes starting at {@code position}, crossing
     * structure boundaries, until it is full or {@code end} is reached; returns the bytes added.
     */
    private long fill(ByteBuffer target, long position, long end) throws IOException {
        long start = position;
        while (position < end && target.hasRemaining()) {
            VhdLayout.Span span = layout.span(position);
            long within = position - span.start();
            int n = (int) Math.min(Math.min(end, span.end()) - position, target.remaining());
            switch (span.part()) {
                case FOOTER_COPY, FOOTER -> target.put(layout.footerBytes(), (int) within, n);
                case HEADER -> target.put(layout.headerBytes(), (int) within, n);
                case PARENT_LOCATOR -> target.put(layout.locatorBytes(), (int) within, n);
                case BAT -> {
                    ByteBuffer slice = target.slice(target.position(), n);
                    layout.batBytes(within, slice);
                    target.position(target.position() + n);
                }
                case BITMAP ->
                    target.put(ones.duplicate().position((int) within).limit((int) within + n));
                case BLOCK_DATA -> {
                    long virtualStart = span.block() < 0
                            ? within
                            : (long) layout.presentBlock(span.block()) * layout.blockSize() + within;
                    fillData(target, virtualStart, n);
                }
            }
            position += n;
        }
        return position - start;
    }

    /** Puts virtual bytes {@code [virtualStart, virtualStart + n)} at {@code target}'s position. */
    private void fillData(ByteBuffer target, long virtualStart, int n) throws IOException {
        int base = target.position();
        int limit = target.limit();
        long virtualEnd = virtualStart + n;
        long readableEnd = Math.min(virtualEnd, layout.virtualSize());
        ExtentSet read =
                virtualStart < readableEnd ? layout.readExtents().clip(virtualStart, readableEnd) : ExtentSet.empty();
        MemorySegment segment = MemorySegment.ofBuffer(target.duplicate().clear());
        long cursor = virtualStart;
        for (int i = 0; i < read.size(); i++) {
            long extentStart = read.start(i);
            long extentEnd = read.end(i);
            if (cursor < extentStart) {
                segment.asSlice(base + cursor - virtualStart, extentStart - cursor)
                        .fill((byte) 0);
            }
            target.limit(base + (int) (extentEnd - virtualStart)).position(base + (int) (extentStart - virtualStart));
            source.readFully(extentStart, target);
            cursor = extentEnd;
        }
        if (cursor < virtualEnd) {
            segment.asSlice(base + cursor - virtualStart, virtualEnd - cursor).fill((byte) 0);
        }
        target.limit(limit).position(base + n);
    }

    private void writeFully(WritableByteChannel out, ByteBuffer data) throws IOException {
        int n = data.remaining();
        while (data.hasRemaining()) {
            out.write(data);
        }
        if (n > 0) {
            advance(n);
        }
    }
}
