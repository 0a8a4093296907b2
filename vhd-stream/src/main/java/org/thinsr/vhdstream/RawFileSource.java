package org.thinsr.vhdstream;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;

/**
 * A raw disk image (a regular file or a block device) read by position through a {@link
 * FileChannel}. Its {@link #allocationMap()} comes from {@code SEEK_DATA/SEEK_HOLE}: DATA where the
 * file system has blocks, HOLE elsewhere; optionally refined by a zero scan ({@link
 * RawZeroScan}) that turns all-zero granules of DATA into ZERO.
 *
 * <p>Thread-safe: reads are positional. The caller closes the source.
 */
public final class RawFileSource implements BlockSource {
    private final Path path;
    private final FileChannel channel;
    private final long size;
    private final int zeroScanGranularity;

    private RawFileSource(Path path, FileChannel channel, long size, int zeroScanGranularity) {
        this.path = path;
        this.channel = channel;
        this.size = size;
        this.zeroScanGranularity = zeroScanGranularity;
    }

    /** Opens {@code path} read-only; its allocation map is SEEK_DATA/SEEK_HOLE only. */
    public static RawFileSource open(Path path) throws IOException {
        return open(path, 0);
    }

    /**
     * Opens {@code path} read-only. When {@code zeroScanGranularity > 0}, {@link #allocationMap()}
     * also reads every DATA extent and reports granule-aligned all-zero pieces as ZERO (that read
     * costs as much as the allocated bytes).
     *
     * @param zeroScanGranularity 0 for no zero scan, else a power of two in [512, 64 MiB]
     */
    public static RawFileSource open(Path path, int zeroScanGranularity) throws IOException {
        if (zeroScanGranularity != 0) {
            RawZeroScan.checkGranularity(zeroScanGranularity);
        }
        FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = channel.size();
            if (size == 0 && !Files.isRegularFile(path) && FileExtents.available()) {
                size = FileExtents.seekEnd(path); // block devices report size 0 to Java
            }
            return new RawFileSource(path, channel, size, zeroScanGranularity);
        } catch (IOException | RuntimeException e) {
            channel.close();
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

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws IOException {
        long end = Math.addExact(offset, buffer.remaining());
        if (offset < 0 || end > size) {
            throw new EOFException(
                    "read of [" + offset + ", " + end + ") passes the end of " + path + " (" + size + " bytes)");
        }
        long position = offset;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, position);
            if (read < 0) {
                throw new EOFException(path + " ended at " + position + " while reading [" + offset + ", " + end
                        + "); it was " + size + " bytes when opened");
            }
            position += read;
        }
    }

    /**
     * Copies bytes {@code [offset, offset + length)} of the source to {@code target} at its current
     * position (advancing it), in the kernel where it can ({@code copy_file_range} between files):
     * the bytes do not pass through a Java buffer.
     *
     * @throws EOFException when the range passes the end of the source
     */
    void transferTo(long offset, long length, WritableByteChannel target) throws IOException {
        long end = Math.addExact(offset, length);
        if (offset < 0 || length < 0 || end > size) {
            throw new EOFException(
                    "read of [" + offset + ", " + end + ") passes the end of " + path + " (" + size + " bytes)");
        }
        long position = offset;
        while (position < end) {
            long copied = channel.transferTo(position, end - position, target);
            if (copied <= 0) {
                throw new EOFException(path + " ended at " + position + " while copying [" + offset + ", " + end
                        + "); it was " + size + " bytes when opened");
            }
            position += copied;
        }
    }

    /**
     * SEEK_DATA/SEEK_HOLE extents as DATA, the rest HOLE, all LOCAL; then the zero scan when one
     * was asked for. Costs two {@code lseek} calls per data extent (plus reading the data when
     * scanning).
     */
    @Override
    public AllocationMap allocationMap() throws IOException {
        AllocationMap map = AllocationMap.ofData(size, FileExtents.dataExtents(path, size));
        return zeroScanGranularity == 0 ? map : RawZeroScan.refine(map, this, zeroScanGranularity);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "raw " + path;
    }
}
