package org.thinsr.migrate;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;

/** A hand-written in-memory disk that counts what is read and written, and can fail on demand. */
final class MemoryDisk {
    final byte[] bytes;
    final AtomicLong bytesRead = new AtomicLong();
    final AtomicLong bytesWritten = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    volatile long failWritesAfterBytes = Long.MAX_VALUE;
    volatile ExtentSet forbiddenReads = ExtentSet.empty();

    MemoryDisk(int size) {
        bytes = new byte[size];
    }

    MemoryDisk(byte[] content) {
        bytes = content.clone();
    }

    BlockSource source() {
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
                if (forbiddenReads.intersects(offset, offset + length)) {
                    throw new AssertionError("read of a hole at [" + offset + ", +" + length + ")");
                }
                synchronized (MemoryDisk.this) {
                    buffer.put(bytes, (int) offset, length);
                }
                bytesRead.addAndGet(length);
            }

            @Override
            public void close() {}
        };
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
