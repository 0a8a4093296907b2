package org.thinsr.qmpclient;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.thinsr.qmpclient.QmpCommands.TransactionAction;

/**
 * Checkpoints and point-in-time NBD exports of a qemu block node, the way libvirt's pull-mode
 * backup does it ({@code docs/kbase/internals/incremental-backup.rst}, qemu {@code
 * docs/interop/bitmaps.rst}).
 *
 * <p>A checkpoint is a persistent, recording dirty bitmap named after it ({@link #createCheckpoint}).
 * {@link #begin} then, in one {@code transaction}: optionally starts the next checkpoint, adds a
 * disabled temporary bitmap on a scratch qcow2 overlay (backed by the node) and merges the
 * checkpoint's bitmap into it, and starts {@code blockdev-backup sync=none} into the scratch node
 * (copy-before-write fleecing). The scratch node is exported read-only with {@code
 * qemu:allocation-depth} and the temporary bitmap, so a client reads the node as it was at that
 * instant and asks {@code qemu:dirty-bitmap:TEMP} for what changed since the checkpoint. {@link
 * #close()} tears down in the only safe order: export, job (cancel, await concluded, dismiss),
 * scratch nodes, scratch file.
 *
 * <p>Not thread-safe; one backup per scratch id at a time.
 */
public final class PullBackup implements Closeable {
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(30);

    private final QmpCommands qmp;
    private final String id;
    private final String exportName;
    private final String bitmapName;
    private final Path scratchImage;
    private final List<Runnable> undo = new ArrayList<>();
    private boolean exported;
    private boolean jobStarted;
    private boolean closed;

    private PullBackup(QmpCommands qmp, String id, String exportName, String bitmapName, Path scratchImage) {
        this.qmp = qmp;
        this.id = id;
        this.exportName = exportName;
        this.bitmapName = bitmapName;
        this.scratchImage = scratchImage;
    }

    /** Adds the persistent, recording bitmap {@code checkpoint} on {@code node}. */
    public static void createCheckpoint(QmpCommands qmp, String node, String checkpoint) throws IOException {
        qmp.blockDirtyBitmapAdd(node, checkpoint, 0, true, false);
    }

    /** Removes the checkpoint bitmap {@code checkpoint} from {@code node}. */
    public static void deleteCheckpoint(QmpCommands qmp, String node, String checkpoint) throws IOException {
        qmp.blockDirtyBitmapRemove(node, checkpoint);
    }

    /**
     * Freezes {@code node} and exports the frozen view as {@code exportName} on the running NBD
     * server (start one first with {@code nbd-server-start} or {@link QemuStorageDaemon.Builder#nbdServer}).
     *
     * @param id a name for the backup's scratch nodes, job, export and bitmap (letters, digits, -)
     * @param sinceCheckpoint the checkpoint whose changes to export, or {@code null} for none
     * @param newCheckpoint a checkpoint to start atomically at the frozen instant, or {@code null}
     * @param scratchImage where to create the scratch qcow2 (deleted by {@link #close()})
     */
    public static PullBackup begin(
            QmpCommands qmp,
            String id,
            String node,
            String exportName,
            String sinceCheckpoint,
            String newCheckpoint,
            Path scratchImage)
            throws IOException {
        if (!id.matches("[A-Za-z][A-Za-z0-9-]{0,60}")) {
            throw new IllegalArgumentException("backup id must be a letter then letters, digits or -: '" + id + "'");
        }
        long size = qmp.namedBlockNode(node).virtualSize();
        if (size < 0) {
            throw new IOException("block node " + node + " reports no virtual size");
        }
        String bitmap = sinceCheckpoint == null ? null : id + "-changes";
        PullBackup backup = new PullBackup(qmp, id, exportName, bitmap, scratchImage);
        try {
            backup.start(node, size, sinceCheckpoint, newCheckpoint);
            return backup;
        } catch (IOException | RuntimeException e) {
            backup.close();
            throw e;
        }
    }

    private String scratchNode() {
        return id + "-scratch";
    }

    private String jobId() {
        return id + "-fleece";
    }

    private void start(String node, long size, String sinceCheckpoint, String newCheckpoint) throws IOException {
        Files.deleteIfExists(scratchImage);
        CommandRunner.run(
                List.of(
                        "qemu-img",
                        "create",
                        "-q",
                        "-f",
                        "qcow2",
                        scratchImage.toAbsolutePath().toString(),
                        Long.toString(size)),
                STEP_TIMEOUT,
                stdout -> null);
        undo.add(() -> deleteQuietly(scratchImage));
        qmp.blockdevAdd(QmpCommands.object()
                .put("driver", "file")
                .put("node-name", scratchNode() + "-file")
                .put("filename", scratchImage.toAbsolutePath().toString()));
        undo.add(() -> quietly(() -> qmp.blockdevDel(scratchNode() + "-file")));
        qmp.blockdevAdd(QmpCommands.object()
                .put("driver", "qcow2")
                .put("node-name", scratchNode())
                .put("file", scratchNode() + "-file")
                .put("backing", node));
        undo.add(() -> quietly(() -> qmp.blockdevDel(scratchNode())));

        List<TransactionAction> actions = new ArrayList<>();
        if (newCheckpoint != null) {
            actions.add(TransactionAction.bitmapAdd(node, newCheckpoint, 0, true, false));
        }
        if (sinceCheckpoint != null) {
            actions.add(TransactionAction.bitmapAdd(scratchNode(), bitmapName, 0, false, true));
            ObjectNode merge = QmpCommands.object().put("node", scratchNode()).put("target", bitmapName);
            ArrayNode sources = merge.putArray("bitmaps");
            sources.addObject().put("node", node).put("name", sinceCheckpoint);
            actions.add(new TransactionAction("block-dirty-bitmap-merge", merge));
        }
        actions.add(TransactionAction.blockdevBackup(jobId(), node, scratchNode(), "none", false));
        qmp.transaction(actions);
        jobStarted = true;

        qmp.blockExportAddNbd(
                id, scratchNode(), exportName, false, true, bitmapName == null ? List.of() : List.of(bitmapName));
        exported = true;
    }

    /** The export name on the NBD server. */
    public String exportName() {
        return exportName;
    }

    /** The meta contexts a client should ask for: base, depth and, when incremental, the changes. */
    public List<String> metaContexts() {
        List<String> contexts =
                new ArrayList<>(List.of(QemuAllocation.BASE_ALLOCATION, QemuAllocation.ALLOCATION_DEPTH));
        if (bitmapName != null) {
            contexts.add(QemuAllocation.DIRTY_BITMAP_PREFIX + bitmapName);
        }
        return contexts;
    }

    /** The temporary bitmap holding the changes since the checkpoint, or {@code null} for a full backup. */
    public String changesBitmap() {
        return bitmapName;
    }

    /**
     * Tears down: deletes the export (waiting for {@code BLOCK_EXPORT_DELETED}), cancels the fleecing
     * job and waits until it is concluded, dismisses it, deletes the scratch nodes and file. NBD
     * clients of the export must be closed first. Idempotent; best effort after the first failure,
     * which is rethrown.
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        IOException first = null;
        QmpClient client = qmp.client();
        if (exported) {
            try {
                CompletableFuture<QmpEvent> deleted =
                        client.eventFuture(event -> event.name().equals(QmpEvent.BLOCK_EXPORT_DELETED)
                                && event.subject().equals(id));
                qmp.blockExportDel(id, true);
                client.awaitEvent(deleted, STEP_TIMEOUT);
            } catch (IOException e) {
                first = e;
            }
        }
        if (jobStarted) {
            try {
                CompletableFuture<QmpEvent> concluded =
                        client.eventFuture(event -> event.name().equals(QmpEvent.JOB_STATUS_CHANGE)
                                && event.subject().equals(jobId())
                                && event.data().path("status").asText().equals("concluded"));
                QmpTypes.JobInfo job = qmp.job(jobId());
                if (job != null && !job.status().equals("concluded")) {
                    qmp.jobCancel(jobId());
                    client.awaitEvent(concluded, STEP_TIMEOUT);
                } else {
                    concluded.cancel(false);
                }
                qmp.jobDismiss(jobId());
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        for (int i = undo.size() - 1; i >= 0; i--) {
            undo.get(i).run();
        }
        if (first != null) {
            throw first;
        }
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private static void quietly(IoAction action) {
        try {
            action.run();
        } catch (IOException e) {
            // teardown is best effort after the first failure
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // best effort
        }
    }
}
