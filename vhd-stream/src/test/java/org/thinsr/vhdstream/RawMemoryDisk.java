package org.thinsr.vhdstream;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;

/**
 * A hand-written fake disk in memory, both source and sink. Records which byte ranges were read
 * (so tests can prove holes are never read) and which were zeroed.
 */
final class RawMemoryDisk implements BlockSource, BlockSink {
    final byte[] bytes;
    private final AllocationMap map;
    private final ExtentSet.Builder reads = ExtentSet.builder();
    private final ExtentSet.Builder zeroed = ExtentSet.builder();
    private int flushes;

    RawMemoryDisk(byte[] bytes, AllocationMap map) {
        this.bytes = bytes;
        this.map = map;
    }

    /** An empty (all-zero) disk of {@code size} bytes, used as a sink. */
    static RawMemoryDisk zeros(int size) {
        return new RawMemoryDisk(new byte[size], null);
    }

    /** A disk with random bytes in {@code data} extents and zeros elsewhere; its map says so. */
    static RawMemoryDisk random(Random random, int size, ExtentSet data) {
        byte[] bytes = new byte[size];
        data.forEach((start, end) -> {
            for (long i = start; i < end; i++) {
                bytes[(int) i] = (byte) (1 + random.nextInt(255));
            }
        });
        return new RawMemoryDisk(bytes, AllocationMap.ofData(size, data));
    }

    /** Random data extents over {@code size} bytes, about {@code density} of it allocated. */
    static ExtentSet randomExtents(Random random, int size, double density, int maxExtent) {
        ExtentSet.Builder builder = ExtentSet.builder();
        int position = 0;
        while (position < size) {
            int length = 1 + random.nextInt(maxExtent);
            if (random.nextDouble() < density) {
                builder.add(position, Math.min(size, position + length));
            }
            position += length;
        }
        return builder.build();
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws IOException {
        int length = buffer.remaining();
        if (offset < 0 || offset + length > bytes.length) {
            throw new EOFException("read of " + length + " at " + offset + " past " + bytes.length);
        }
        reads.add(offset, offset + length);
        buffer.put(bytes, (int) offset, length);
    }

    @Override
    public AllocationMap allocationMap() {
        return map;
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws IOException {
        int length = buffer.remaining();
        if (offset < 0 || offset + length > bytes.length) {
            throw new IOException("write of " + length + " at " + offset + " past " + bytes.length);
        }
        buffer.get(bytes, (int) offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset + length > bytes.length) {
            throw new IOException("zero of " + length + " at " + offset + " past " + bytes.length);
        }
        zeroed.add(offset, offset + length);
        Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public void flush() {
        flushes++;
    }

    int flushes() {
        return flushes;
    }

    ExtentSet readRanges() {
        return reads.build();
    }

    ExtentSet zeroedRanges() {
        return zeroed.build();
    }

    @Override
    public void close() {}
}
