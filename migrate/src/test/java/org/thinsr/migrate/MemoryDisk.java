package org.thinsr.migrate;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.FileRegion;

/** A hand-written in-memory disk that counts what is read and written, and can fail on demand. */
final class MemoryDisk {
    final byte[] bytes;
    final AtomicLong bytesRead = new AtomicLong();
    final AtomicLong bytesWritten = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    /** Bytes the sink took as file regions ({@link BlockSink#writeRegions}), when it accepts them. */
    final AtomicLong bytesFromRegions = new AtomicLong();
    /** Calls of the source's {@link BlockSource#regions}. */
    final AtomicLong regionsAsked = new AtomicLong();

    volatile boolean acceptsRegions;
    volatile long failWritesAfterBytes = Long.MAX_VALUE;
    volatile ExtentSet forbiddenReads = ExtentSet.empty();

    MemoryDisk(int size) {
        bytes = new byte[size];
    }

    MemoryDisk(byte[] content) {
        bytes = content.clone();
    }

    BlockSource source() {
        return sourceWithRegions(null);
    }

    /**
     * {@link #source()} that also tells where its bytes lie: in {@code file}, a copy of {@link
     * #bytes} (none when null).
     */
    BlockSource sourceWithRegions(FileChannel file) {
        return new BlockSource() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public void readFully(long offset, ByteBuffer buffer) throws IOException {
                int length = buffer.remaining();
                if (offset + length > bytes.length) {
                    throw new EOFException("past the end");
                }
                checkAllowed(offset, length, "read");
                synchronized (MemoryDisk.this) {
                    buffer.put(bytes, (int) offset, length);
                }
                bytesRead.addAndGet(length);
            }

            @Override
            public Optional<List<FileRegion>> regions(long offset, long length) {
                if (file == null) {
                    return Optional.empty();
                }
                checkAllowed(offset, length, "regions");
                regionsAsked.incrementAndGet();
                return Optional.of(List.of(new FileRegion(file, offset, length)));
            }

            @Override
            public void close() {}
        };
    }

    private void checkAllowed(long offset, long length, String what) {
        if (forbiddenReads.intersects(offset, offset + length)) {
            throw new AssertionError(what + " of a hole at [" + offset + ", +" + length + ")");
        }
    }

    BlockSink sink() {
        return new BlockSink() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public void write(long offset, ByteBuffer buffer) throws IOException {
                int length = buffer.remaining();
                if (bytesWritten.get() + length > failWritesAfterBytes) {
                    throw new IOException("injected write failure at offset " + offset);
                }
                synchronized (MemoryDisk.this) {
                    buffer.get(bytes, (int) offset, length);
                }
                bytesWritten.addAndGet(length);
            }

            @Override
            public boolean writeRegions(long offset, List<FileRegion> regions) throws IOException {
                if (!acceptsRegions) {
                    return false;
                }
                long at = offset;
                for (FileRegion region : regions) { // what sendfile does, by hand
                    ByteBuffer into = ByteBuffer.allocate((int) region.length());
                    while (!region.isZeros() && into.hasRemaining()) {
                        if (region.file().read(into, region.position() + into.position()) < 0) {
                            throw new EOFException("region past the end of its file");
                        }
                    }
                    synchronized (MemoryDisk.this) {
                        System.arraycopy(into.array(), 0, bytes, (int) at, into.capacity());
                    }
                    at += region.length();
                }
                bytesFromRegions.addAndGet(at - offset);
                return true;
            }

            @Override
            public void writeZeroes(long offset, long length) {
                synchronized (MemoryDisk.this) {
                    Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
                }
            }

            @Override
            public void flush() {
                flushes.incrementAndGet();
            }

            @Override
            public void close() {}
        };
    }
}
