package org.thinsr.migrate;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.thinsr.allocmap.CorruptInputException;

/**
 * One block job as {@code query-jobs} reports it (qemu {@code qapi/job.json}, {@code JobInfo}):
 *
 * <pre>
 * [{"id": "live-1", "type": "mirror", "status": "running",
 *   "current-progress": 1048576, "total-progress": 67108864, "error": "..."}, ...]
 * </pre>
 *
 * Progress is in bytes for a mirror: {@code total-progress} is what is copied plus what is still
 * dirty, so it grows when the guest writes to blocks already copied. {@code error} is present only
 * on a concluded job that failed (or was cancelled before it was ready).
 *
 * @param currentBytes bytes copied so far, {@code >= 0}
 * @param totalBytes copied plus still to copy, {@code >= 0}
 * @param error qemu's message for a failed job, or {@code null}
 */
record MirrorJob(String id, Status status, long currentBytes, long totalBytes, String error) {
    /** qemu's {@code JobStatus}, in the order of a job's life. */
    enum Status {
        UNDEFINED,
        CREATED,
        RUNNING,
        PAUSED,
        READY,
        STANDBY,
        WAITING,
        PENDING,
        ABORTING,
        CONCLUDED,
        NULL;

        /** The QMP name: {@code running}, {@code ready}, ... */
        String qmpName() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Status parse(String text) throws CorruptInputException {
            for (Status status : values()) {
                if (status.qmpName().equals(text)) {
                    return status;
                }
            }
            throw CorruptInputException.of(
                    "query-jobs reply", "job status", "'" + text + "'", "one of qemu's JobStatus names");
        }
    }

    MirrorJob {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(status, "status");
        if (currentBytes < 0) {
            throw new IllegalArgumentException("currentBytes is negative: " + currentBytes);
        }
        if (totalBytes < 0) {
            throw new IllegalArgumentException("totalBytes is negative: " + totalBytes);
        }
    }

    /**
     * The job {@code jobId} in a {@code query-jobs} reply, or empty when the reply does not list it.
     *
     * @throws CorruptInputException when the reply is not an array of objects, or the job's fields
     *     are missing, of the wrong type or negative
     */
    static Optional<MirrorJob> find(JsonNode reply, String jobId) throws CorruptInputException {
        if (reply == null || !reply.isArray()) {
            throw CorruptInputException.of(
                    "query-jobs reply", "JSON type", reply == null ? "nothing" : reply.getNodeType(), "an array");
        }
        for (JsonNode job : reply) {
            if (!job.isObject()) {
                throw CorruptInputException.of("query-jobs reply", "element", job.getNodeType(), "an object");
            }
            if (jobId.equals(job.path("id").asText(null))) {
                return Optional.of(of(job));
            }
        }
        return Optional.empty();
    }

    private static MirrorJob of(JsonNode job) throws CorruptInputException {
        String id = job.path("id").asText();
        String where = "query-jobs reply, job " + id;
        JsonNode status = job.get("status");
        if (status == null || !status.isTextual()) {
            throw CorruptInputException.of(where, "field status", status == null ? "missing" : status, "a string");
        }
        long current = bytes(job, "current-progress", where);
        long total = bytes(job, "total-progress", where);
        JsonNode error = job.get("error");
        if (error != null && !error.isTextual()) {
            throw CorruptInputException.of(where, "field error", error.getNodeType(), "a string");
        }
        return new MirrorJob(id, Status.parse(status.asText()), current, total, error == null ? null : error.asText());
    }

    private static long bytes(JsonNode job, String field, String where) throws CorruptInputException {
        JsonNode value = job.get(field);
        if (value == null || !value.canConvertToLong() || !value.isIntegralNumber()) {
            throw CorruptInputException.of(where, "field " + field, value == null ? "missing" : value, "an integer");
        }
        long bytes = value.asLong();
        if (bytes < 0) {
            throw CorruptInputException.of(where, "field " + field, bytes, "at least 0");
        }
        return bytes;
    }

    /** Copied bytes clamped to {@link #totalBytes}, for a bar. */
    long doneBytes() {
        return Math.min(currentBytes, totalBytes);
    }
}
