package org.thinsr.vhdstream;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.thinsr.allocmap.BlockSink;

/**
 * A raw disk image written by position: a regular file (sized with {@code ftruncate}, so unwritten
 * ranges stay holes) or a block device. {@link #writeZeroes} punches holes with {@code
 * fallocate(PUNCH_HOLE | KEEP_SIZE)} and writes zeros where that is unsupported.
 *
 * <p>While it is open, the disk writes what was written so far ({@link EarlyWriteback}), so {@link
 * #flush()} at the end waits for the tail only.
 *
 * <p>Thread-safe for writes to disjoint ranges (positional writes). The caller closes the sink; a
 * sink closed without {@link #flush()} makes no durability promise.
 */
public final class RawFileSink implements BlockSink {
    private static final int ZERO_BUFFER_SIZE = 1 << 20;

    private final Path path;
    private final RandomAccessFile file;
    private final FileChannel channel;
    private final boolean regularFile;
    private final EarlyWriteback writeback;
    private volatile long size;

    private RawFileSink(Path path, RandomAccessFile file, long size, boolean regularFile) {
        this.path = path;
        this.file = file;
        this.channel = file.getChannel();
        this.size = size;
        this.regularFile = regularFile;
        this.writeback = EarlyWriteback.start(path);
    }

    /**
     * Creates (or truncates) the regular file {@code path} as a sparse file of {@code size} bytes:
     * all of it reads as zeros and none of it is allocated.
     */
    public static RawFileSink create(Path path, long size) throws IOException {
        if (size < 0) {
            throw new IllegalArgumentException("size is negative: " + size);
        }
        RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw");
        try {
            file.setLength(0);
            file.setLength(size);
            return new RawFileSink(path, file, size, true);
        } catch (IOException | RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /**
     * Creates (or truncates) the regular file {@code path} empty, for a stream that tells the disk
     * size only at its end: {@link #size()} is {@code maxSize} until {@link #resize} sets the real
     * one; writes extend the file, and what lies between them stays a hole.
     */
    public static RawFileSink createGrowable(Path path, long maxSize) throws IOException {
        if (maxSize < 0) {
            throw new IllegalArgumentException("size is negative: " + maxSize);
        }
        RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw");
        try {
            file.setLength(0);
            return new RawFileSink(path, file, maxSize, true);
        } catch (IOException | RuntimeException e) {
            file.close();
            throw e;
        }
    }

    /**
     * Opens an existing file or block device for writing without truncating it; its current size
     * is the sink size. Unwritten ranges keep their old content.
     */
    public static RawFileSink openExisting(Path path) throws IOException {
        boolean regular = Files.isRegularFile(path);
        RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw");
        try {
            long size = file.length();
            if (!regular && size == 0 && FileExtents.available()) {
                size = FileExtents.seekEnd(path);
            }
            return new RawFileSink(path, file, size, regular);
        } catch (IOException | RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    /**
     * Changes the size of a regular file (growing adds a hole, shrinking drops the tail); used when
     * a stream only tells the disk size at its end.
     */
    public void resize(long newSize) throws IOException {
        if (!regularFile) {
            throw new IOException("cannot resize " + path + ": not a regular file");
        }
        if (newSize < 0) {
            throw new IllegalArgumentException("size is negative: " + newSize);
        }
        file.setLength(newSize);
        size = newSize;
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws IOException {
        checkRange(offset, buffer.remaining());
        long position = offset;
        while (buffer.hasRemaining()) {
            position += channel.write(buffer, position);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        if (FileExtents.punchHole(path, offset, length) == FileExtents.PunchResult.PUNCHED) {
            return;
        }
        ByteBuffer zeros = ByteBuffer.allocateDirect((int) Math.min(ZERO_BUFFER_SIZE, length));
        long position = offset;
        long end = offset + length;
        while (position < end) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), end - position));
            while (zeros.hasRemaining()) {
                position += channel.write(zeros, position);
            }
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        writeback.close();
        file.close();
    }

    private void checkRange(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IOException("write of " + length + " bytes at offset " + offset + " passes the end of " + path
                    + " (" + size + " bytes)");
        }
    }

    @Override
    public String toString() {
        return "raw " + path;
    }
}
