package org.thinsr.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.util.Objects;

/**
 * An asynchronous QMP event: {@code {"event": NAME, "data": {...}, "timestamp": {"seconds": s,
 * "microseconds": us}}}, e.g. {@code JOB_STATUS_CHANGE}, {@code BLOCK_JOB_COMPLETED}, {@code
 * BLOCK_JOB_ERROR}, {@code BLOCK_JOB_READY}, {@code BLOCK_EXPORT_DELETED}.
 *
 * @param name the event name
 * @param data its data object ({@link NullNode} when absent)
 * @param timestampMicros qemu's timestamp in microseconds since the epoch (-1 when absent)
 */
public record QmpEvent(String name, JsonNode data, long timestampMicros) {
    public static final String JOB_STATUS_CHANGE = "JOB_STATUS_CHANGE";
    public static final String BLOCK_JOB_COMPLETED = "BLOCK_JOB_COMPLETED";
    public static final String BLOCK_JOB_ERROR = "BLOCK_JOB_ERROR";
    public static final String BLOCK_JOB_READY = "BLOCK_JOB_READY";
    public static final String BLOCK_JOB_CANCELLED = "BLOCK_JOB_CANCELLED";
    public static final String BLOCK_EXPORT_DELETED = "BLOCK_EXPORT_DELETED";

    public QmpEvent {
        Objects.requireNonNull(name, "name");
        data = data == null ? NullNode.getInstance() : data;
    }

    /** {@code data.id} for job events, {@code data.device} for block job events, else {@code ""}. */
    public String subject() {
        JsonNode id = data.get("id");
        if (id == null) {
            id = data.get("device");
        }
        return id == null ? "" : id.asText();
    }
}
