package org.thinsr.migrate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.FileRegion;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.httpexport.DiskStore;
import org.thinsr.httpexport.HttpDiskClient;
import org.thinsr.qmpclient.NbdBlockSink;

/**
 * A new VDI on another {@code thinsr serve}: created with {@code POST /vdis}, written over NBD
 * through an HTTP upgrade ({@code POST /vdis/{vdi}/nbd}, one connection per pass shared by every
 * worker) when the server offers one for the VDI, else with ranged PUTs and PATCH zero; verified
 * with {@code GET /vdis/{vdi}/checksum}, removed with DELETE on failure.
 */
public final class HttpDestination implements Migration.Destination {
    private final HttpDiskClient client;
    private String vdi;
    private long virtualSize;
    private boolean created;

    public HttpDestination(HttpDiskClient client) {
        this.client = client;
    }

    @Override
    public String describe() {
        return client.base() + (vdi == null ? "" : " VDI " + vdi);
    }

    @Override
    public String key() {
        return "http:" + client.base();
    }

    @Override
    public String prepare(String nameLabel, long size) throws IOException {
        DiskStore.DiskInfo info = client.create(nameLabel, size);
        vdi = info.id();
        virtualSize = info.virtualSize();
        created = true;
        return vdi;
    }

    /** The server's own SR: created while the source is snapshotted. */
    @Override
    public boolean preparesAside() {
        return true;
    }

    @Override
    public void reopen(String vdiId, long size) throws IOException {
        DiskStore.DiskInfo info = client.find(vdiId);
        vdi = info.id();
        virtualSize = info.virtualSize();
        created = true;
    }

    @Override
    public BlockSink openSink() {
        return client.sink(vdi, virtualSize);
    }

    /**
     * One pass: each copy worker writes over an NBD tunnel of its own when the server offers them (a
     * connection each, as to an NBD export: one shared connection was a tenth slower), all closed
     * before the pass returns; the workers share the first where its export does not offer
     * multi-conn; ranged PUTs where the server offers no tunnel.
     */
    @Override
    public SparseCopier.Result copy(
            CopyPlan plan,
            SparseCopier.Opener<BlockSource> sources,
            SparseCopier.Options options,
            Optional<CopyJournal> journal,
            SparseCopier.Listener listener,
            BooleanSupplier cancelled)
            throws IOException {
        Optional<NbdBlockSink> first = client.nbdSink(vdi);
        if (first.isEmpty()) {
            return Migration.Destination.super.copy(plan, sources, options, journal, listener, cancelled);
        }
        String where = "NBD tunnel to " + describe();
        Queue<NbdBlockSink> opened = new ConcurrentLinkedQueue<>(List.of(first.get()));
        AtomicReference<NbdBlockSink> unused = new AtomicReference<>(first.get());
        boolean multiConn = first.get().info().canMultiConn();
        SparseCopier.Result result;
        try {
            result = SparseCopier.copy(
                    plan,
                    sources,
                    () -> {
                        NbdBlockSink sink = multiConn ? unused.getAndSet(null) : first.get();
                        if (sink == null) {
                            sink = anotherTunnel(where);
                            opened.add(sink);
                        }
                        return peerErrors(sink, where);
                    },
                    options,
                    journal,
                    listener,
                    cancelled);
        } catch (IOException | RuntimeException e) {
            IOException unclosed = closeAll(opened);
            if (unclosed != null) {
                e.addSuppressed(unclosed);
            }
            throw e;
        }
        IOException unclosed = closeAll(opened);
        if (unclosed != null) { // a tunnel that fails to close may not have flushed
            throw new ThinsrException(ErrorCode.PEER_ERROR, where + ": " + unclosed.getMessage(), unclosed);
        }
        return result;
    }

    /** Closes every tunnel; the first failure, or null. */
    private static IOException closeAll(Queue<NbdBlockSink> opened) {
        IOException failure = null;
        for (NbdBlockSink sink : opened) {
            try {
                sink.close();
            } catch (IOException e) {
                failure = failure == null ? e : failure;
            }
        }
        return failure;
    }

    private NbdBlockSink anotherTunnel(String where) throws IOException {
        try {
            return client.nbdSink(vdi)
                    .orElseThrow(() -> new ThinsrException(
                            ErrorCode.PEER_ERROR, where + ": the server stopped offering NBD tunnels"));
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.PEER_ERROR, where + ": " + e.getMessage(), e);
        }
    }

    /**
     * The shared tunnel sink as each worker sees it: closing leaves it open, and a failure of the
     * connection is the peer's ({@code PEER_ERROR}, as a failed PUT is), named with {@code where}.
     */
    private static BlockSink peerErrors(BlockSink sink, String where) {
        return new BlockSink() {
            @Override
            public long size() throws IOException {
                return sink.size();
            }

            @Override
            public void write(long offset, ByteBuffer buffer) {
                run(() -> sink.write(offset, buffer));
            }

            @Override
            public boolean writeRegions(long offset, List<FileRegion> regions) throws IOException {
                try {
                    return sink.writeRegions(offset, regions);
                } catch (CorruptInputException e) {
                    throw e; // the source's files are not what their map said: not the peer's fault
                } catch (IOException e) {
                    throw peer(e);
                }
            }

            @Override
            public void writeZeroes(long offset, long length) {
                run(() -> sink.writeZeroes(offset, length));
            }

            @Override
            public void flush() {
                run(sink::flush);
            }

            private void run(Call call) {
                try {
                    call.run();
                } catch (IOException e) {
                    throw peer(e);
                }
            }

            private ThinsrException peer(IOException e) {
                return new ThinsrException(ErrorCode.PEER_ERROR, where + ": " + e.getMessage(), e);
            }

            @Override
            public void close() {}
        };
    }

    @FunctionalInterface
    private interface Call {
        void run() throws IOException;
    }

    @Override
    public List<String> checksums(int blockSize) throws IOException {
        return client.checksums(vdi, blockSize, virtualSize);
    }

    @Override
    public void setContentId(String contentId) {
        // the HTTP API has no key setting yet; the source records the content id
    }

    @Override
    public void discard() throws IOException {
        if (created && vdi != null) {
            client.delete(vdi);
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
