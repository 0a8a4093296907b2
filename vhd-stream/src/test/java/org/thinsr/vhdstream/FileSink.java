package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.thinsr.allocmap.BlockSink;

/** A test {@link BlockSink} over a new sparse file of a given size; zeroes by writing zeros. */
final class FileSink implements BlockSink {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20);

    private final FileChannel channel;
    private final long size;

    FileSink(Path path, long size) throws IOException {
        this.channel = FileChannel.open(
                path,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        this.size = size;
        if (size > 0) {
            channel.write(ByteBuffer.allocate(1), size - 1);
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws IOException {
        if (offset < 0 || offset + buffer.remaining() > size) {
            throw new IOException("write past the end: " + offset + " + " + buffer.remaining());
        }
        long position = offset;
        while (buffer.hasRemaining()) {
            position += channel.write(buffer, position);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        long done = 0;
        while (done < length) {
            ByteBuffer zeros = ZEROS.duplicate().clear().limit((int) Math.min(ZEROS.capacity(), length - done));
            write(offset + done, zeros);
            done += zeros.limit();
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
