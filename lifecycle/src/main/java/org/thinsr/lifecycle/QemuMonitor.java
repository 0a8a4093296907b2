package org.thinsr.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import org.thinsr.qmpclient.QmpClient;

/**
 * The QMP monitor of a qemu process serving an attached volume.
 *
 * @param socket the monitor's unix socket; it serves one client at a time
 * @param nodeName the block node the volume was opened as when attached; after a live snapshot the
 *     export serves an overlay above it, so the node the export reads and writes now comes from
 *     {@code query-block-exports} for {@code exportId}
 * @param exportId the id of the volume's block export in that process
 */
public record QemuMonitor(Path socket, String nodeName, String exportId) {
    public QemuMonitor {
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(exportId, "exportId");
        if (nodeName.isEmpty()) {
            throw new IllegalArgumentException("nodeName is empty");
        }
    }

    /** The node the export serves now, from {@code query-block-exports} over {@code client} (this monitor). */
    public String exportNode(QmpClient client) throws IOException {
        JsonNode exports = client.execute("query-block-exports", null);
        for (JsonNode export : exports) {
            if (exportId.equals(export.path("id").asText())) {
                String node = export.path("node-name").asText("");
                if (node.isEmpty()) {
                    throw new IOException("query-block-exports: export " + exportId + " has no node-name");
                }
                return node;
            }
        }
        throw new IOException("query-block-exports: actual no export '" + exportId + "' in " + socket
                + ", expected the volume's export");
    }
}
