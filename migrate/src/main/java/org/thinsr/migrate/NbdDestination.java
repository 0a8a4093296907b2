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
 */
public final class NbdDestination implements Migration.Destination {
    private final NbdUri uri;
    private final String text;
    private long virtualSize;

    public NbdDestination(String uriText) {
        this.uri = NbdUri.parse(uriText);
        this.text = uriText;
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
        try (NbdBlockSink sink = NbdBlockSink.open(uri, 1)) {
            if (sink.size() < virtualSize) {
                throw new ThinsrException(
                        ErrorCode.NO_SPACE,
                        "NBD export " + text + " has " + sink.size() + " bytes, the VDI needs " + virtualSize);
            }
        }
        this.virtualSize = virtualSize;
        return text;
    }

    @Override
    public void reopen(String vdiId, long virtualSize) throws IOException {
        prepare("", virtualSize);
    }

    @Override
    public BlockSink openSink() throws IOException {
        return NbdBlockSink.open(uri, 1);
    }

    @Override
    public List<String> checksums(int blockSize) throws IOException {
        try (NbdBlockSource source = NbdBlockSource.open(uri, 1)) {
            AllocationMap all = AllocationMap.uniform(virtualSize, State.DATA, Provenance.LOCAL);
            return List.of(BlockChecksums.compute(source, all, blockSize, 0, virtualSize));
        }
    }

    @Override
    public void setContentId(String contentId) {}

    @Override
    public void discard() {}

    @Override
    public void close() {}
}
