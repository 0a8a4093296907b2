package org.thinsr.lifecycle;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The QMP monitor of a qemu process serving an attached volume.
 *
 * @param socket the monitor's unix socket; it serves one client at a time
 * @param nodeName the block node of the volume, the one the export reads and writes
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
