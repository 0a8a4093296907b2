package org.thinsr.qmpclient;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;

/**
 * An NBD export read as a {@link BlockSource}, over one connection or several when the server
 * offers multi-conn. {@link #allocationMap()} comes from block status ({@code base:allocation} and,
 * where offered, {@code qemu:allocation-depth}; see {@link QemuAllocation}). Thread-safe: any number
 * of threads may read at once.
 */
public final class NbdBlockSource implements BlockSource {
    private final NbdConnectionPool pool;

    private NbdBlockSource(NbdConnectionPool pool) {
        this.pool = pool;
    }

    /**
     * Opens {@code uri}; {@code connections} (1 to 16) is an upper bound, used only when the server
     * offers {@code CAN_MULTI_CONN}.
     */
    public static NbdBlockSource open(NbdUri uri, int connections) throws IOException {
        return new NbdBlockSource(NbdConnectionPool.open(
                uri,
                List.of(QemuAllocation.BASE_ALLOCATION, QemuAllocation.ALLOCATION_DEPTH),
                connections,
                NbdConnection.Options.DEFAULT));
    }

    /** How many connections are open (1 unless the server offers multi-conn). */
    public int connections() {
        return pool.size();
    }

    /** Connection {@code index} in {@code [0, connections())}; the first negotiated the meta contexts. */
    public NbdConnection connection(int index) {
        return pool.get(index);
    }

    /** The first connection, which negotiated the meta contexts. */
    public NbdConnection connection() {
        return pool.first();
    }

    @Override
    public long size() {
        return pool.first().size();
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws IOException {
        if (offset < 0 || offset > size() - buffer.remaining()) {
            throw new EOFException("read of " + buffer.remaining() + " bytes at offset " + offset
                    + " passes the end of the NBD export (size " + size() + ")");
        }
        pool.any().read(offset, buffer);
    }

    @Override
    public AllocationMap allocationMap() throws IOException {
        if (pool.first().info().contextId(QemuAllocation.BASE_ALLOCATION) < 0) {
            return null;
        }
        return QemuAllocation.map(pool.first());
    }

    @Override
    public void close() throws IOException {
        pool.close();
    }
}
