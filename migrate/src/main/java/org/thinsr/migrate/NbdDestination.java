package org.thinsr.migrate;

import java.io.IOException;
import java.util.List;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockChecksums;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.qmpclient.NbdBlockSink;
import org.thinsr.qmpclient.NbdBlockSource;
import org.thinsr.qmpclient.NbdUri;

/**
 * An existing NBD export ({@code nbd://}, {@code nbd+unix://}) at least as large as the source. It
 * is not created here, so it is never removed; it must read as zeros where the source has no data
 * (a fresh export), since holes are not written.
 *
 * <p>Every copy worker writes through ONE shared {@link NbdBlockSink}: up to {@code connections}
 * connections when the server advertises {@code CAN_MULTI_CONN}, else one connection with the
 * workers' requests pipelined on it. (Without multi-conn a flush on one connection does not cover
 * writes made on another, and {@code qemu-nbd} without {@code --shared} serves one client at a
 * time: a second connection would wait for the first to close.)
 */
public final class NbdDestination implements Migration.Destination {
    private final NbdUri uri;
    private final String text;
    private final int connections;
    private long virtualSize;
    private NbdBlockSink shared;

    public NbdDestination(String uriText) {
        this(uriText, 4);
    }

    /** {@code connections}: at most this many, 1 to 16, and only when the server allows more than one. */
    public NbdDestination(String uriText, int connections) {
        if (connections < 1 || connections > 16) {
            throw new IllegalArgumentException("connections: actual " + connections + ", expected 1 to 16");
        }
        this.uri = NbdUri.parse(uriText);
        this.text = uriText;
        this.connections = connections;
    }

    @Override
    public String describe() {
        return text;
    }

    @Override
    public String key() {
        return "nbd:" + text;
    }

    @Override
    public String prepare(String nameLabel, long virtualSize) throws IOException {
        closeShared();
        NbdBlockSink sink = NbdBlockSink.open(uri, connections);
        if (sink.size() < virtualSize) {
            long size = sink.size();
            sink.close();
            throw new ThinsrException(
                    ErrorCode.NO_SPACE, "NBD export " + text + " has " + size + " bytes, the VDI needs " + virtualSize);
        }
        this.shared = sink;
        this.virtualSize = virtualSize;
        return text;
    }

    @Override
    public void reopen(String vdiId, long virtualSize) throws IOException {
        prepare("", virtualSize);
    }

    /** A view of the shared sink for one worker: closing it leaves the shared sink open. */
    @Override
    public BlockSink openSink() throws IOException {
        NbdBlockSink sink = shared;
        if (sink == null) {
            throw new IllegalStateException("openSink before prepare");
        }
        return Unclosed.sink(sink);
    }

    @Override
    public List<String> checksums(int blockSize) throws IOException {
        closeShared(); // a server that takes one client at a time must see the writer go first
        try (NbdBlockSource source = NbdBlockSource.open(uri, 1)) {
            AllocationMap all = AllocationMap.uniform(virtualSize, State.DATA, Provenance.LOCAL);
            return List.of(BlockChecksums.compute(source, all, blockSize, 0, virtualSize));
        }
    }

    @Override
    public void setContentId(String contentId) {}

    @Override
    public void discard() throws IOException {
        closeShared();
    }

    @Override
    public void close() throws IOException {
        closeShared();
    }

    private void closeShared() throws IOException {
        NbdBlockSink sink = shared;
        shared = null;
        if (sink != null) {
            sink.close();
        }
    }
}
