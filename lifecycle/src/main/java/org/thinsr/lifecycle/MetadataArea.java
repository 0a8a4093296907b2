package org.thinsr.lifecycle;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A fixed-size region holding an SR's metadata (a file for the file backend, a small LV for
 * lvm-thin). Only {@code SrMetadataStore} gives meaning to its bytes. Not thread-safe; the caller
 * holds the SR lock while using it and closes it.
 */
public interface MetadataArea extends Closeable {
    /** The size in bytes, at least 1 MiB, fixed for the life of the SR. */
    long sizeBytes();

    /**
     * Reads exactly {@code buffer.remaining()} bytes at {@code offset}.
     *
     * @throws java.io.EOFException when the range passes {@link #sizeBytes()}
     */
    void readFully(long offset, ByteBuffer buffer) throws IOException;

    /**
     * Writes all of {@code buffer.remaining()} bytes at {@code offset}; not durable before {@link
     * #sync()}.
     *
     * @throws java.io.EOFException when the range passes {@link #sizeBytes()}
     */
    void write(long offset, ByteBuffer buffer) throws IOException;

    /** Makes every write so far durable (fsync / fdatasync of the file or device). */
    void sync() throws IOException;
}
