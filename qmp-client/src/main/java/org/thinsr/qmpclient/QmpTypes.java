package org.thinsr.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.thinsr.allocmap.CorruptInputException;

/** Typed views of QMP replies; each {@code of} checks the fields it needs and names what is missing. */
public final class QmpTypes {
    private QmpTypes() {}

    /** {@code query-version}: {@code {"qemu": {"major", "minor", "micro"}, "package"}}. */
    public record QemuVersion(int major, int minor, int micro, String packageName) {
        public QemuVersion {
            Objects.requireNonNull(packageName, "packageName");
        }

        static QemuVersion of(JsonNode node) throws CorruptInputException {
            JsonNode qemu = required(node, "qemu", "query-version");
            return new QemuVersion(
                    integer(qemu, "major", "query-version"),
                    integer(qemu, "minor", "query-version"),
                    integer(qemu, "micro", "query-version"),
                    node.path("package").asText(""));
        }

        public boolean atLeast(int wantedMajor, int wantedMinor) {
            return major > wantedMajor || (major == wantedMajor && minor >= wantedMinor);
        }

        @Override
        public String toString() {
            return major + "." + minor + "." + micro;
        }
    }

    /** One entry of a node's {@code dirty-bitmaps}; {@code name} is empty for qemu's anonymous bitmaps. */
    public record DirtyBitmapInfo(
            String name, boolean recording, boolean persistent, boolean busy, long granularity, long count) {
        public DirtyBitmapInfo {
            Objects.requireNonNull(name, "name");
        }

        static DirtyBitmapInfo of(JsonNode node) throws CorruptInputException {
            return new DirtyBitmapInfo(
                    node.path("name").asText(""),
                    node.path("recording").asBoolean(false),
                    node.path("persistent").asBoolean(false),
                    node.path("busy").asBoolean(false),
                    node.path("granularity").asLong(0),
                    node.path("count").asLong(0));
        }
    }

    /** One entry of {@code query-named-block-nodes} ({@code BlockDeviceInfo}). */
    public record BlockNodeInfo(
            String nodeName,
            String driver,
            String file,
            boolean readOnly,
            long virtualSize,
            String backingFile,
            List<DirtyBitmapInfo> dirtyBitmaps) {
        public BlockNodeInfo {
            Objects.requireNonNull(nodeName, "nodeName");
            Objects.requireNonNull(driver, "driver");
            dirtyBitmaps = List.copyOf(dirtyBitmaps);
        }

        static BlockNodeInfo of(JsonNode node) throws CorruptInputException {
            List<DirtyBitmapInfo> bitmaps = new ArrayList<>();
            for (JsonNode bitmap : node.path("dirty-bitmaps")) {
                bitmaps.add(DirtyBitmapInfo.of(bitmap));
            }
            JsonNode image = node.path("image");
            return new BlockNodeInfo(
                    text(node, "node-name", "query-named-block-nodes"),
                    text(node, "drv", "query-named-block-nodes"),
                    node.path("file").asText(""),
                    node.path("ro").asBoolean(false),
                    image.path("virtual-size").asLong(-1),
                    node.has("backing_file") ? node.get("backing_file").asText() : null,
                    bitmaps);
        }

        /** The bitmap called {@code name}, or {@code null}. */
        public DirtyBitmapInfo bitmap(String name) {
            for (DirtyBitmapInfo bitmap : dirtyBitmaps) {
                if (bitmap.name().equals(name)) {
                    return bitmap;
                }
            }
            return null;
        }
    }

    /** One entry of {@code query-block}: a device and the node inserted in it, if any. */
    public record BlockInfo(String device, String qdev, String nodeName, boolean readOnly) {
        public BlockInfo {
            Objects.requireNonNull(device, "device");
        }

        static BlockInfo of(JsonNode node) throws CorruptInputException {
            JsonNode inserted = node.path("inserted");
            return new BlockInfo(
                    text(node, "device", "query-block"),
                    node.path("qdev").asText(""),
                    inserted.has("node-name") ? inserted.get("node-name").asText() : null,
                    inserted.path("ro").asBoolean(false));
        }
    }

    /** One entry of {@code query-block-exports}. */
    public record BlockExportInfo(String id, String type, String nodeName, boolean shuttingDown) {
        public BlockExportInfo {
            Objects.requireNonNull(id, "id");
        }

        static BlockExportInfo of(JsonNode node) throws CorruptInputException {
            return new BlockExportInfo(
                    text(node, "id", "query-block-exports"),
                    node.path("type").asText(""),
                    node.path("node-name").asText(""),
                    node.path("shutting-down").asBoolean(false));
        }
    }

    /** One entry of {@code query-jobs}. */
    public record JobInfo(
            String id, String type, String status, long currentProgress, long totalProgress, String error) {
        public JobInfo {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(status, "status");
        }

        static JobInfo of(JsonNode node) throws CorruptInputException {
            return new JobInfo(
                    text(node, "id", "query-jobs"),
                    node.path("type").asText(""),
                    text(node, "status", "query-jobs"),
                    node.path("current-progress").asLong(0),
                    node.path("total-progress").asLong(0),
                    node.has("error") ? node.get("error").asText() : null);
        }
    }

    static JsonNode required(JsonNode node, String field, String where) throws CorruptInputException {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            throw CorruptInputException.of(where + " reply", "field " + field, "missing", "present");
        }
        return value;
    }

    static String text(JsonNode node, String field, String where) throws CorruptInputException {
        JsonNode value = required(node, field, where);
        if (!value.isTextual()) {
            throw CorruptInputException.of(where + " reply", "field " + field, value.getNodeType(), "a string");
        }
        return value.asText();
    }

    static int integer(JsonNode node, String field, String where) throws CorruptInputException {
        JsonNode value = required(node, field, where);
        if (!value.canConvertToInt()) {
            throw CorruptInputException.of(where + " reply", "field " + field, value, "an int");
        }
        return value.asInt();
    }
}
