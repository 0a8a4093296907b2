package org.thinsr.allocmap;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

/**
 * A virtual disk read by position: a file, a block device, an NBD export, an HTTP range reader.
 *
 * <p>Implementations say whether they are thread-safe; readers that fan out over several threads
 * open one source per thread unless the implementation says otherwise. The caller closes the
 * source.
 */
public interface BlockSource extends Closeable {
    /** The virtual size in bytes. */
    long size() throws IOException;

    /**
     * Reads exactly {@code buffer.remaining()} bytes starting at {@code offset} into {@code buffer}
     * (advancing its position). Bytes past {@link #size()} are an error, never silently zero.
     *
     * @throws java.io.EOFException when the range passes the end of the source
     * @throws IOException on any read failure
     */
    void readFully(long offset, ByteBuffer buffer) throws IOException;

    /**
     * Where the bytes of {@code [offset, offset + length)} lie, in order (see {@link FileRegion}),
     * for a sink that sends bytes of a file without reading them ({@link BlockSink#writeRegions});
     * empty when the source cannot tell (the default) and the caller reads. The files stay open and
     * unchanged while the source is open.
     *
     * @throws java.io.EOFException when the range passes the end of the source
     */
    default Optional<List<FileRegion>> regions(long offset, long length) throws IOException {
        return Optional.empty();
    }

    /**
     * The source's own allocation map, when it can tell one cheaply (SEEK_DATA/SEEK_HOLE, NBD block
     * status, thin_dump); {@code null} when it cannot, in which case callers treat everything as
     * DATA.
     */
    default AllocationMap allocationMap() throws IOException {
        return null;
    }
}
