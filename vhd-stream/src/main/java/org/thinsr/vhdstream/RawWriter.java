package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.LongConsumer;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.State;

/**
 * Writes a disk as raw bytes, forward only: the DATA runs of the allocation map are read from the
 * source, ZERO and HOLE runs are never read. To a stream they become zero bytes; to a file ({@link
 * #writeToFile}) they become holes (the writer seeks past them and sets the final length with
 * {@code ftruncate}), so the output is as sparse as the map.
 *
 * <p>The stream length is always the virtual size, and any byte range can be produced on its own
 * ({@link #writeRange}). Not thread-safe; one writer per output.
 */
public final class RawWriter {
    static final int BUFFER_SIZE = 1 << 20;

    private final AllocationMap map;
    private final BlockSource source;
    private LongConsumer progress = bytes -> {};

    public RawWriter(AllocationMap map, BlockSource source) throws IOException {
        this.map = Objects.requireNonNull(map, "map");
        this.source = Objects.requireNonNull(source, "source");
        if (source.size() < map.virtualSize()) {
            throw new IllegalArgumentException(
                    "source is " + source.size() + " bytes but the map covers " + map.virtualSize());
        }
    }

    /** Called with the number of virtual-disk bytes done, after each piece (holes included). */
    public RawWriter progress(LongConsumer consumer) {
        this.progress = Objects.requireNonNull(consumer, "consumer");
        return this;
    }

    /** The exact output length: the virtual size. */
    public long length() {
        return map.virtualSize();
    }

    /** Writes the whole disk to {@code out}; ZERO and HOLE runs become zero bytes. Does not close. */
    public void writeTo(OutputStream out) throws IOException {
        writeRange(0, length(), out);
    }

    /** Writes bytes {@code [from, to)} of the raw image to {@code out}. Does not close it. */
    public void writeRange(long from, long to, OutputStream out) throws IOException {
        checkRange(from, to, length());
        byte[] buffer = new byte[(int) Math.min(BUFFER_SIZE, Math.max(1, to - from))];
        ByteBuffer wrapped = ByteBuffer.wrap(buffer);
        long position = from;
        while (position < to) {
            int run = map.runIndexAt(position);
            long runEnd = Math.min(map.runEnd(run), to);
            State state = map.runState(run);
            while (position < runEnd) {
                int length = (int) Math.min(buffer.length, runEnd - position);
                switch (state) {
                    case DATA -> {
                        wrapped.clear().limit(length);
                        source.readFully(position, wrapped);
                    }
                    case ZERO, HOLE -> Arrays.fill(buffer, 0, length, (byte) 0);
                }
                out.write(buffer, 0, length);
                position += length;
                progress.accept(position - from);
            }
        }
    }

    /**
     * Creates or truncates {@code file} and writes the disk into it sparsely: only DATA runs are
     * written, everything else is left as holes, and the file ends at the virtual size. All-zero
     * pieces of DATA are not special-cased (use {@link RawZeroScan} on the map for that).
     */
    public void writeToFile(Path file) throws IOException {
        writeToFile(file, false);
    }

    /**
     * Like {@link #writeToFile(Path)}; with {@code skipZeroBlocks}, 4 KiB blocks of DATA that read
     * as zeros are left as holes too (what {@code qemu-img convert} does by default). Costs no
     * extra read: the check runs over the buffer just read.
     */
    public void writeToFile(Path file, boolean skipZeroBlocks) throws IOException {
        try (RandomAccessFile output = new RandomAccessFile(file.toFile(), "rw");
                EarlyWriteback _ = EarlyWriteback.start(file)) {
            output.setLength(0);
            FileChannel channel = output.getChannel();
            ByteBuffer buffer = ByteBuffer.allocateDirect((int) Math.min(BUFFER_SIZE, Math.max(1, length())));
            for (int run = 0; run < map.runCount(); run++) {
                long start = map.runStart(run);
                long end = map.runEnd(run);
                switch (map.runState(run)) {
                    case DATA -> {
                        long position = start;
                        while (position < end) {
                            buffer.clear().limit((int) Math.min(buffer.capacity(), end - position));
                            source.readFully(position, buffer);
                            buffer.flip();
                            position = skipZeroBlocks
                                    ? writeNonZeroBlocks(channel, buffer, position)
                                    : writeAll(channel, buffer, position);
                            progress.accept(position);
                        }
                    }
                    case ZERO, HOLE -> progress.accept(end);
                }
            }
            output.setLength(length());
            channel.force(false);
        }
    }

    private static long writeAll(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            at += channel.write(buffer, at);
        }
        return at;
    }

    /** Writes the non-zero 4 KiB blocks (aligned to the disk) of the buffer; returns the end offset. */
    private static long writeNonZeroBlocks(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        int base = buffer.position();
        int limit = buffer.limit();
        int runStart = -1;
        int index = base;
        while (index < limit) {
            long diskOffset = position + (index - base);
            int blockEnd = (int) Math.min(limit, index + (ZERO_BLOCK - diskOffset % ZERO_BLOCK));
            boolean zero =
                    RawZeroScan.isAllZero(buffer.duplicate().limit(blockEnd).position(index));
            if (!zero && runStart < 0) {
                runStart = index;
            } else if (zero && runStart >= 0) {
                writeAll(channel, buffer.duplicate().limit(index).position(runStart), position + (runStart - base));
                runStart = -1;
            }
            index = blockEnd;
        }
        if (runStart >= 0) {
            writeAll(channel, buffer.duplicate().limit(limit).position(runStart), position + (runStart - base));
        }
        return position + (limit - base);
    }

    private static final int ZERO_BLOCK = 4096;

    static void checkRange(long from, long to, long length) {
        if (from < 0 || to < from || to > length) {
            throw new IllegalArgumentException(
                    "range [" + from + ", " + to + ") is outside the stream [0, " + length + ")");
        }
    }
}
