package org.thinsr.allocmap;

import java.nio.channels.FileChannel;

/**
 * A piece of a disk's bytes as it lies in a file: {@code length} bytes at {@code position} of
 * {@code file}, or, with {@link #zeros}, {@code length} zero bytes that lie nowhere. What {@link
 * BlockSource#regions} hands a sink that can send file bytes without reading them ({@code
 * sendfile}).
 *
 * @param file open for reading, owned by the source; null for zeros
 */
public record FileRegion(FileChannel file, long position, long length) {
    public FileRegion {
        if (length < 1 || (file != null && position < 0)) {
            throw new IllegalArgumentException("file region: position " + position + ", length " + length);
        }
    }

    /** {@code length} zero bytes. */
    public static FileRegion zeros(long length) {
        return new FileRegion(null, 0, length);
    }

    /** Whether the region is zeros rather than bytes of a file. */
    public boolean isZeros() {
        return file == null;
    }
}
