package org.thinsr.lifecycle;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A {@link MetadataArea} on a regular file or a block device (an LV), of a size fixed at open.
 * {@link #sync()} is {@link FileChannel#force(boolean) force(true)}.
 */
public final class FileChannelMetadataArea implements MetadataArea {
    private final Path path;
    private final FileChannel channel;
    private final long sizeBytes;

    private FileChannelMetadataArea(Path path, FileChannel channel, long sizeBytes) {
        this.path = path;
        this.channel = channel;
        this.sizeBytes = sizeBytes;
    }

    /**
     * Opens {@code path} for reading and writing; it must exist and be at least {@code sizeBytes}
     * long (a block device's size is not checked by the JDK, so callers pass the LV's size).
     */
    public static FileChannelMetadataArea open(Path path, long sizeBytes) throws IOException {
        if (sizeBytes < 1 << 20) {
            throw new IllegalArgumentException("metadata area of " + sizeBytes + " bytes, at least 1 MiB");
        }
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new FileChannelMetadataArea(path, channel, sizeBytes);
    }

    /** Creates a zero-filled (sparse) file of {@code sizeBytes}; fails if it exists. */
    public static void create(Path path, long sizeBytes) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.allocate(1), sizeBytes - 1);
            channel.force(true);
        }
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws IOException {
        check(offset, buffer.remaining());
        long position = offset;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, position);
            if (read < 0) {
                throw new EOFException("metadata area " + path + ": end of file at offset " + position);
            }
            position += read;
        }
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws IOException {
        check(offset, buffer.remaining());
        long position = offset;
        while (buffer.hasRemaining()) {
            position += channel.write(buffer, position);
        }
    }

    private void check(long offset, int length) throws EOFException {
        if (offset < 0 || offset > sizeBytes - length) {
            throw new EOFException("metadata area " + path + ": range [" + offset + ", " + (offset + length)
                    + ") passes its size " + sizeBytes);
        }
    }

    @Override
    public void sync() throws IOException {
        channel.force(true);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
