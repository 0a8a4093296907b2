package org.thinsr.lifecycle;

import java.nio.file.Path;
import java.util.Objects;

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
}
