package org.thinsr.qmpclient;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.FileRegion;

/**
 * A writable NBD export as a {@link BlockSink}. {@link #writeZeroes} uses {@code
 * NBD_CMD_WRITE_ZEROES} (letting the server punch holes) and falls back to writing zero buffers
 * when the server does not offer it; {@link #flush()} sends {@code NBD_CMD_FLUSH} once every write
 * has been acknowledged. Thread-safe.
 */
public final class NbdBlockSink implements BlockSink {
    private static final int ZERO_BUFFER = 1024 * 1024;

    private final NbdConnectionPool pool;

    private NbdBlockSink(NbdConnectionPool pool) {
        this.pool = pool;
    }

    /** Opens {@code uri} for writing; fails when the export is read-only. */
    public static NbdBlockSink open(NbdUri uri, int connections) throws IOException {
        NbdConnectionPool pool = NbdConnectionPool.open(uri, List.of(), connections, NbdConnection.Options.DEFAULT);
        if (pool.first().info().readOnly()) {
            pool.close();
            throw new NbdException(1, "NBD export " + uri + " is read-only");
        }
        return new NbdBlockSink(pool);
    }

    /**
     * A writer over one connection negotiated by the caller (for example through an HTTP upgrade);
     * closing the sink closes the connection. Fails when the export is read-only.
     */
    public static NbdBlockSink over(NbdConnection connection) throws IOException {
        if (connection.info().readOnly()) {
            connection.close();
            throw new NbdException(1, "NBD export " + connection.info().exportName() + " is read-only");
        }
        return new NbdBlockSink(NbdConnectionPool.of(connection));
    }

    @Override
    public long size() {
        return pool.first().size();
    }

    /** What the server said of its export when the first connection was made. */
    public NbdExportInfo info() {
        return pool.first().info();
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws IOException {
        checkRange(offset, buffer.remaining());
        pool.any().write(offset, buffer, false);
    }

    /** Sends the regions' bytes from their files ({@link NbdConnection#writeRegions}) where it can. */
    @Override
    public boolean writeRegions(long offset, List<FileRegion> regions) throws IOException {
        long length = 0;
        for (FileRegion region : regions) {
            length += region.length();
        }
        checkRange(offset, length);
        return pool.any().writeRegions(offset, regions, false);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkRange(offset, length);
        NbdConnection connection = pool.any();
        if (connection.info().canWriteZeroes()) {
            connection.writeZeroes(offset, length, false);
            return;
        }
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, ZERO_BUFFER));
        long end = offset + length;
        while (offset < end) {
            int step = (int) Math.min(end - offset, zeros.capacity());
            connection.write(offset, zeros.clear().limit(step), false);
            offset += step;
        }
    }

    private void checkRange(long offset, long length) throws EOFException {
        if (offset < 0 || length < 0 || offset > size() - length) {
            throw new EOFException("write of " + length + " bytes at offset " + offset
                    + " passes the end of the NBD export (size " + size() + ")");
        }
    }

    @Override
    public void flush() throws IOException {
        pool.first().flush();
    }

    @Override
    public void close() throws IOException {
        pool.close();
    }
}
