package org.thinsr.qmpclient;

import java.util.Map;
import java.util.Objects;

/**
 * What the NBD negotiation established for one connection.
 *
 * @param exportName the export name sent in {@code NBD_OPT_GO}
 * @param size the export size in bytes
 * @param transmissionFlags the 16 transmission flag bits ({@code NBD_FLAG_*})
 * @param minimumBlockSize minimum block size in bytes (1 when not advertised)
 * @param preferredBlockSize preferred block size in bytes (4096 when not advertised)
 * @param maximumPayload the largest READ/WRITE payload in bytes we will use
 * @param structuredReplies whether {@code NBD_OPT_STRUCTURED_REPLY} was acknowledged
 * @param metaContexts the selected meta contexts, id to name (ids are per connection)
 */
public record NbdExportInfo(
        String exportName,
        long size,
        int transmissionFlags,
        int minimumBlockSize,
        int preferredBlockSize,
        int maximumPayload,
        boolean structuredReplies,
        Map<Integer, String> metaContexts) {
    public NbdExportInfo {
        Objects.requireNonNull(exportName, "exportName");
        if (size < 0) {
            throw new IllegalArgumentException("size is negative: " + size);
        }
        if (minimumBlockSize < 1 || preferredBlockSize < 1 || maximumPayload < 1) {
            throw new IllegalArgumentException("block sizes must be positive: " + minimumBlockSize + ", "
                    + preferredBlockSize + ", " + maximumPayload);
        }
        metaContexts = Map.copyOf(metaContexts);
    }

    public boolean readOnly() {
        return (transmissionFlags & NbdProtocol.TF_READ_ONLY) != 0;
    }

    public boolean canFlush() {
        return (transmissionFlags & NbdProtocol.TF_SEND_FLUSH) != 0;
    }

    public boolean canFua() {
        return (transmissionFlags & NbdProtocol.TF_SEND_FUA) != 0;
    }

    public boolean canTrim() {
        return (transmissionFlags & NbdProtocol.TF_SEND_TRIM) != 0;
    }

    public boolean canWriteZeroes() {
        return (transmissionFlags & NbdProtocol.TF_SEND_WRITE_ZEROES) != 0;
    }

    public boolean canFastZero() {
        return (transmissionFlags & NbdProtocol.TF_SEND_FAST_ZERO) != 0;
    }

    public boolean canMultiConn() {
        return (transmissionFlags & NbdProtocol.TF_CAN_MULTI_CONN) != 0;
    }

    /** The context id of {@code name} on this connection, or -1 when it was not selected. */
    public int contextId(String name) {
        for (Map.Entry<Integer, String> entry : metaContexts.entrySet()) {
            if (entry.getValue().equals(name)) {
                return entry.getKey();
            }
        }
        return -1;
    }
}
