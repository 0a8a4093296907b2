package org.thinsr.allocmap;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * A virtual disk written by position: the target of an import, a copy or a migration.
 *
 * <p>Writes may arrive in any order; nothing is durable before {@link #flush()} returns. An import
 * that fails must not report success: callers only treat the target as complete after the final
 * {@code flush()}. The caller closes the sink.
 */
public interface BlockSink extends Closeable {
    /** The virtual size in bytes; writes past it are an error. */
    long size() throws IOException;

    /** Writes all of {@code buffer.remaining()} bytes at {@code offset} (advancing its position). */
    void write(long offset, ByteBuffer buffer) throws IOException;

    /**
     * {@link #write}, for a buffer whose bytes stay readable and unchanged until {@link #flush()}
     * returns (for example a slice of a read-only file mapping): a sink that writes later may keep
     * the buffer instead of copying it. The caller must not change the bytes before then.
     */
    default void writeRetained(long offset, ByteBuffer buffer) throws IOException {
        write(offset, buffer);
    }

    /**
     * Writes the bytes of {@code regions}, one after another, at {@code offset} without reading
     * them into memory ({@code sendfile} to a socket), when this sink can: true when it wrote them,
     * false (the default) when it cannot and wrote nothing, and the caller reads and {@link #write}s.
     */
    default boolean writeRegions(long offset, List<FileRegion> regions) throws IOException {
        return false;
    }

    /**
     * Makes {@code [offset, offset + length)} read as zeros, deallocating where the target can
     * (punch hole, NBD WRITE_ZEROES, dm-thin discard).
     */
    void writeZeroes(long offset, long length) throws IOException;

    /** Makes every write so far durable. */
    void flush() throws IOException;
}
