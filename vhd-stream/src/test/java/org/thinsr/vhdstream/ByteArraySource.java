package org.thinsr.vhdstream;

import java.io.EOFException;
import java.nio.ByteBuffer;
import org.thinsr.allocmap.BlockSource;

/** An in-memory {@link BlockSource}; counts the bytes read. */
class ByteArraySource implements BlockSource {
    private final byte[] data;
    long bytesRead;

    ByteArraySource(byte[] data) {
        this.data = data;
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws EOFException {
        if (offset < 0 || offset + buffer.remaining() > data.length) {
            throw new EOFException("read [" + offset + ", +" + buffer.remaining() + ") past " + data.length);
        }
        bytesRead += buffer.remaining();
        buffer.put(data, (int) offset, buffer.remaining());
    }

    @Override
    public void close() {}
}
