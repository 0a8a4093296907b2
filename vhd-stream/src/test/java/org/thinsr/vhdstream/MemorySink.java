package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.thinsr.allocmap.BlockSink;

/**
 * An in-memory {@link BlockSink} that starts filled with a marker byte, so that tests see which
 * bytes were written, zeroed or left alone.
 */
final class MemorySink implements BlockSink {
    final byte[] data;
    long bytesWritten;
    long bytesZeroed;
    boolean flushed;

    MemorySink(int size, byte fill) {
        this.data = new byte[size];
        Arrays.fill(data, fill);
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws IOException {
        check(offset, buffer.remaining());
        bytesWritten += buffer.remaining();
        buffer.get(data, (int) offset, buffer.remaining());
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        check(offset, length);
        bytesZeroed += length;
        Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
    }

    private void check(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset + length > data.length) {
            throw new IOException("write [" + offset + ", +" + length + ") outside [0, " + data.length + ")");
        }
        if (flushed) {
            throw new IOException("write after flush");
        }
    }

    @Override
    public void flush() {
        flushed = true;
    }

    @Override
    public void close() {}
}
