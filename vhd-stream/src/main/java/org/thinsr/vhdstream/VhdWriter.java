package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.Objects;
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
 * <p>Not thread-safe: one writer per output; several writers may share a layout. The caller closes
 * the source and the output.
 */
public final class VhdWriter {
    /** Bytes read from the source and written per call. */
    static final int BUFFER_SIZE = 4 << 20;

    private final VhdLayout layout;
    private final BlockSource source;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_SIZE);
    private final ByteBuffer ones;

    public VhdWriter(VhdLayout layout, BlockSource source) {
        this.layout = Objects.requireNonNull(layout, "layout");
        this.source = Objects.requireNonNull(source, "source");
        byte[] bitmap = new byte[layout.bitmapSize()];
        java.util.Arrays.fill(bitmap, (byte) 0xFF);
        this.ones = ByteBuffer.wrap(bitmap).asReadOnlyBuffer();
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
     * Writes bytes {@code [start, end)} of the image to {@code out}.
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
        long position = start;
        while (position < end) {
            VhdLayout.Span span = layout.span(position);
            long pieceEnd = Math.min(end, span.end());
            long within = position - span.start();
            int n;
            switch (span.part()) {
                case FOOTER_COPY, FOOTER -> writeBytes(out, layout.footerBytes(), within, pieceEnd - position);
                case HEADER -> writeBytes(out, layout.headerBytes(), within, pieceEnd - position);
                case PARENT_LOCATOR -> writeBytes(out, layout.locatorBytes(), within, pieceEnd - position);
                case BAT -> {
                    n = (int) Math.min(pieceEnd - position, BUFFER_SIZE);
                    buffer.clear().limit(n);
                    layout.batBytes(within, buffer);
                    buffer.flip();
                    writeFully(out, buffer);
                    pieceEnd = position + n;
                }
                case BITMAP -> {
                    ByteBuffer bitmap = ones.duplicate();
                    bitmap.position((int) within).limit((int) (within + pieceEnd - position));
                    writeFully(out, bitmap);
                }
                case BLOCK_DATA -> {
                    long virtualStart = span.block() < 0
                            ? within
                            : (long) layout.presentBlock(span.block()) * layout.blockSize() + within;
                    n = (int) Math.min(pieceEnd - position, BUFFER_SIZE);
                    fillData(virtualStart, n);
                    writeFully(out, buffer);
                    pieceEnd = position + n;
                }
            }
            position = pieceEnd;
        }
    }

    /** Fills {@link #buffer} with virtual bytes {@code [virtualStart, virtualStart + n)} and flips it. */
    private void fillData(long virtualStart, int n) throws IOException {
        buffer.clear().limit(n);
        long virtualEnd = virtualStart + n;
        long readableEnd = Math.min(virtualEnd, layout.virtualSize());
        ExtentSet read =
                virtualStart < readableEnd ? layout.readExtents().clip(virtualStart, readableEnd) : ExtentSet.empty();
        MemorySegment segment = MemorySegment.ofBuffer(buffer);
        long cursor = virtualStart;
        for (int i = 0; i < read.size(); i++) {
            long extentStart = read.start(i);
            long extentEnd = read.end(i);
            if (cursor < extentStart) {
                segment.asSlice(cursor - virtualStart, extentStart - cursor).fill((byte) 0);
            }
            buffer.limit((int) (extentEnd - virtualStart)).position((int) (extentStart - virtualStart));
            source.readFully(extentStart, buffer);
            cursor = extentEnd;
        }
        if (cursor < virtualEnd) {
            segment.asSlice(cursor - virtualStart, virtualEnd - cursor).fill((byte) 0);
        }
        buffer.limit(n).position(0);
    }

    private static void writeBytes(WritableByteChannel out, byte[] bytes, long from, long count) throws IOException {
        writeFully(out, ByteBuffer.wrap(bytes, (int) from, (int) count));
    }

    private static void writeFully(WritableByteChannel out, ByteBuffer data) throws IOException {
        while (data.hasRemaining()) {
            out.write(data);
        }
    }
}
