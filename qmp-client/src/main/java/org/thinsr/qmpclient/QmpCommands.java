package org.thinsr.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.qmpclient.QmpTypes.BlockExportInfo;
import org.thinsr.qmpclient.QmpTypes.BlockInfo;
import org.thinsr.qmpclient.QmpTypes.BlockNodeInfo;
import org.thinsr.qmpclient.QmpTypes.JobInfo;
import org.thinsr.qmpclient.QmpTypes.QemuVersion;

/**
 * Typed QMP block-layer commands over a {@link QmpClient}, named and shaped as in qemu's QMP
 * reference (qapi/block-core.json, block-export.json, job.json, transaction.json). Every method
 * throws {@link QmpException} when qemu refuses the command. Thread-safe like the client.
 */
public final class QmpCommands {
    private final QmpClient client;

    public QmpCommands(QmpClient client) {
        this.client = Objects.requireNonNull(client, "client");
    }

    public QmpClient client() {
        return client;
    }

    static ObjectNode object() {
        return QmpClient.JSON.createObjectNode();
    }

    public QemuVersion queryVersion() throws IOException {
        return QemuVersion.of(client.execute("query-version", null));
    }

    /** {@code query-named-block-nodes} with {@code flat: true}: every node once. */
    public List<BlockNodeInfo> queryNamedBlockNodes() throws IOException {
        JsonNode reply = client.execute("query-named-block-nodes", object().put("flat", true));
        List<BlockNodeInfo> nodes = new ArrayList<>();
        for (JsonNode node : array(reply, "query-named-block-nodes")) {
            nodes.add(BlockNodeInfo.of(node));
        }
        return nodes;
    }

    /** The node called {@code nodeName}; a {@link QmpException} of class DeviceNotFound otherwise. */
    public BlockNodeInfo namedBlockNode(String nodeName) throws IOException {
        for (BlockNodeInfo node : queryNamedBlockNodes()) {
            if (node.nodeName().equals(nodeName)) {
                return node;
            }
        }
        throw new QmpException("query-named-block-nodes", "DeviceNotFound", "no block node '" + nodeName + "'");
    }

    public List<BlockInfo> queryBlock() throws IOException {
        List<BlockInfo> devices = new ArrayList<>();
        for (JsonNode device : array(client.execute("query-block", null), "query-block")) {
            devices.add(BlockInfo.of(device));
        }
        return devices;
    }

    /** {@code blockdev-add} with {@code options} (a {@code BlockdevOptions} object with {@code node-name}). */
    public void blockdevAdd(ObjectNode options) throws IOException {
        if (!options.hasNonNull("node-name")) {
            throw new IllegalArgumentException("blockdev-add options need a node-name: " + options);
        }
        client.execute("blockdev-add", options);
    }

    public void blockdevDel(String nodeName) throws IOException {
        client.execute("blockdev-del", object().put("node-name", nodeName));
    }

    /**
     * {@code block-dirty-bitmap-add}.
     *
     * @param granularity bytes per bit (a power of two), or 0 for qemu's default
     */
    public void blockDirtyBitmapAdd(String node, String name, long granularity, boolean persistent, boolean disabled)
            throws IOException {
        client.execute(
                "block-dirty-bitmap-add",
                TransactionAction.bitmapAdd(node, name, granularity, persistent, disabled)
                        .data());
    }

    public void blockDirtyBitmapRemove(String node, String name) throws IOException {
        client.execute("block-dirty-bitmap-remove", bitmap(node, name));
    }

    public void blockDirtyBitmapClear(String node, String name) throws IOException {
        client.execute("block-dirty-bitmap-clear", bitmap(node, name));
    }

    public void blockDirtyBitmapEnable(String node, String name) throws IOException {
        client.execute("block-dirty-bitmap-enable", bitmap(node, name));
    }

    public void blockDirtyBitmapDisable(String node, String name) throws IOException {
        client.execute("block-dirty-bitmap-disable", bitmap(node, name));
    }

    /** {@code block-dirty-bitmap-merge}: ORs {@code sources} (bitmaps of {@code node}) into {@code target}. */
    public void blockDirtyBitmapMerge(String node, String target, List<String> sources) throws IOException {
        client.execute(
                "block-dirty-bitmap-merge",
                TransactionAction.bitmapMerge(node, target, sources).data());
    }

    /** {@code transaction}: all actions or none. */
    public void transaction(List<TransactionAction> actions) throws IOException {
        ArrayNode list = QmpClient.JSON.createArrayNode();
        for (TransactionAction action : actions) {
            list.addObject().put("type", action.type()).set("data", action.data());
        }
        ObjectNode arguments = object();
        arguments.set("actions", list);
        client.execute("transaction", arguments);
    }

    /** {@code nbd-server-start} on a unix socket. */
    public void nbdServerStartUnix(Path socket, int maxConnections) throws IOException {
        ObjectNode arguments = object();
        arguments.putObject("addr").put("type", "unix").putObject("data").put("path", socket.toString());
        if (maxConnections > 0) {
            arguments.put("max-connections", maxConnections);
        }
        client.execute("nbd-server-start", arguments);
    }

    /** {@code nbd-server-start} on a TCP address. */
    public void nbdServerStartTcp(String host, int port) throws IOException {
        ObjectNode arguments = object();
        arguments
                .putObject("addr")
                .put("type", "inet")
                .putObject("data")
                .put("host", host)
                .put("port", Integer.toString(port));
        client.execute("nbd-server-start", arguments);
    }

    public void nbdServerStop() throws IOException {
        client.execute("nbd-server-stop", null);
    }

    /**
     * {@code block-export-add} of type {@code nbd}.
     *
     * @param bitmaps dirty bitmaps of {@code nodeName} to export as {@code qemu:dirty-bitmap:NAME}
     *     (they must be disabled for a read-only export)
     */
    public void blockExportAddNbd(
            String id,
            String nodeName,
            String exportName,
            boolean writable,
            boolean allocationDepth,
            List<String> bitmaps)
            throws IOException {
        ObjectNode arguments = object().put("type", "nbd")
                .put("id", id)
                .put("node-name", nodeName)
                .put("name", exportName)
                .put("writable", writable)
                .put("allocation-depth", allocationDepth);
        if (!bitmaps.isEmpty()) {
            ArrayNode names = arguments.putArray("bitmaps");
            bitmaps.forEach(names::add);
        }
        client.execute("block-export-add", arguments);
    }

    /** {@code block-export-del} in mode {@code safe} ({@code hard} disconnects clients). */
    public void blockExportDel(String id, boolean hard) throws IOException {
        client.execute("block-export-del", object().put("id", id).put("mode", hard ? "hard" : "safe"));
    }

    public List<BlockExportInfo> queryBlockExports() throws IOException {
        List<BlockExportInfo> exports = new ArrayList<>();
        for (JsonNode export : array(client.execute("query-block-exports", null), "query-block-exports")) {
            exports.add(BlockExportInfo.of(export));
        }
        return exports;
    }

    /** {@code blockdev-backup}; see {@link TransactionAction#blockdevBackup}. */
    public void blockdevBackup(String jobId, String device, String target, String sync, boolean autoDismiss)
            throws IOException {
        client.execute(
                "blockdev-backup",
                TransactionAction.blockdevBackup(jobId, device, target, sync, autoDismiss)
                        .data());
    }

    /** {@code blockdev-mirror} with {@code sync} full, top or none; complete it with {@link #jobComplete}. */
    public void blockdevMirror(String jobId, String device, String target, String sync, boolean autoDismiss)
            throws IOException {
        client.execute(
                "blockdev-mirror",
                object().put("job-id", jobId)
                        .put("device", device)
                        .put("target", target)
                        .put("sync", sync)
                        .put("auto-dismiss", autoDismiss));
    }

    public List<JobInfo> queryJobs() throws IOException {
        List<JobInfo> jobs = new ArrayList<>();
        for (JsonNode job : array(client.execute("query-jobs", null), "query-jobs")) {
            jobs.add(JobInfo.of(job));
        }
        return jobs;
    }

    /** The job called {@code id}, or {@code null}. */
    public JobInfo job(String id) throws IOException {
        for (JobInfo job : queryJobs()) {
            if (job.id().equals(id)) {
                return job;
            }
        }
        return null;
    }

    public void jobComplete(String id) throws IOException {
        client.execute("job-complete", object().put("id", id));
    }

    public void jobCancel(String id) throws IOException {
        client.execute("job-cancel", object().put("id", id));
    }

    public void jobDismiss(String id) throws IOException {
        client.execute("job-dismiss", object().put("id", id));
    }

    public void jobFinalize(String id) throws IOException {
        client.execute("job-finalize", object().put("id", id));
    }

    /** {@code quit}: qemu exits after the reply. */
    public void quit() throws IOException {
        client.execute("quit", null);
    }

    private static ObjectNode bitmap(String node, String name) {
        return object().put("node", node).put("name", name);
    }

    private static JsonNode array(JsonNode reply, String command) throws CorruptInputException {
        if (!reply.isArray()) {
            throw CorruptInputException.of(command + " reply", "JSON type", reply.getNodeType(), "an array");
        }
        return reply;
    }

    /** One action of a {@code transaction}: its type and data object. */
    public record TransactionAction(String type, ObjectNode data) {
        public TransactionAction {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(data, "data");
        }

        public static TransactionAction bitmapAdd(
                String node, String name, long granularity, boolean persistent, boolean disabled) {
            if (granularity < 0 || (granularity != 0 && Long.bitCount(granularity) != 1)) {
                throw new IllegalArgumentException("granularity is not 0 or a power of two: " + granularity);
            }
            ObjectNode data = bitmap(node, name).put("persistent", persistent).put("disabled", disabled);
            if (granularity > 0) {
                data.put("granularity", granularity);
            }
            return new TransactionAction("block-dirty-bitmap-add", data);
        }

        public static TransactionAction bitmapRemove(String node, String name) {
            return new TransactionAction("block-dirty-bitmap-remove", bitmap(node, name));
        }

        public static TransactionAction bitmapClear(String node, String name) {
            return new TransactionAction("block-dirty-bitmap-clear", bitmap(node, name));
        }

        public static TransactionAction bitmapEnable(String node, String name) {
            return new TransactionAction("block-dirty-bitmap-enable", bitmap(node, name));
        }

        public static TransactionAction bitmapDisable(String node, String name) {
            return new TransactionAction("block-dirty-bitmap-disable", bitmap(node, name));
        }

        public static TransactionAction bitmapMerge(String node, String target, List<String> sources) {
            ObjectNode data = object().put("node", node).put("target", target);
            ArrayNode bitmaps = data.putArray("bitmaps");
            sources.forEach(bitmaps::add);
            return new TransactionAction("block-dirty-bitmap-merge", data);
        }

        /**
         * {@code blockdev-backup}: {@code sync} is {@code full}, {@code top}, {@code none}
         * (fleecing: copy-before-write into {@code target}), {@code incremental} or {@code bitmap}.
         */
        public static TransactionAction blockdevBackup(
                String jobId, String device, String target, String sync, boolean autoDismiss) {
            return new TransactionAction(
                    "blockdev-backup",
                    object().put("job-id", jobId)
                            .put("device", device)
                            .put("target", target)
                            .put("sync", sync)
                            .put("auto-dismiss", autoDismiss));
        }
    }
}
