package org.thinsr.lifecycle;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * An in-memory {@link MetadataArea} with a "durable" copy: writes land in the volatile image and
 * reach the durable one only at {@link #sync()}, so tests can model a crash (keep only durable
 * bytes) or a kill (keep everything written).
 */
final class MemoryMetadataArea implements MetadataArea {
    final byte[] written;
    final byte[] durable;
    int writes;

    MemoryMetadataArea(int size) {
        this.written = new byte[size];
        this.durable = new byte[size];
    }

    @Override
    public long sizeBytes() {
        return written.length;
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws EOFException {
        check(offset, buffer.remaining());
        buffer.put(written, (int) offset, buffer.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws EOFException {
        check(offset, buffer.remaining());
        writes++;
        buffer.get(written, (int) offset, buffer.remaining());
    }

    private void check(long offset, int length) throws EOFException {
        if (offset < 0 || offset + length > written.length) {
            throw new EOFException("range [" + offset + ", +" + length + ") passes " + written.length);
        }
    }

    @Override
    public void sync() {
        System.arraycopy(written, 0, durable, 0, written.length);
    }

    /** A new area holding only what was synced (a power cut). */
    MemoryMetadataArea afterPowerCut() {
        MemoryMetadataArea area = new MemoryMetadataArea(durable.length);
        System.arraycopy(durable, 0, area.written, 0, durable.length);
        System.arraycopy(durable, 0, area.durable, 0, durable.length);
        return area;
    }

    byte[] snapshot() {
        return Arrays.copyOf(written, written.length);
    }

    @Override
    public void close() {}
}
