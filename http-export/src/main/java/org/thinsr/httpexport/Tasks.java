package org.thinsr.httpexport;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.thinsr.allocmap.ErrorCode;

/**
 * The transfers the service runs, for {@code GET /tasks}: each with its state, progress and, on
 * failure, a precise error code. Finished tasks are kept (the newest {@value #MAX_FINISHED}) so a
 * client can read the outcome after its connection ended. Thread-safe.
 */
final class Tasks {
    static final int MAX_FINISHED = 1000;

    enum Status {
        PENDING,
        RUNNING,
        SUCCESS,
        FAILURE
    }

    private final Clock clock;
    private final Map<String, Task> tasks = new LinkedHashMap<>();

    Tasks(Clock clock) {
        this.clock = clock;
    }

    /** A new RUNNING task; {@code id} is the client's ({@code task_id}) or, when null, a fresh one. */
    synchronized Task start(String id, String operation, String vdi, long totalBytes) {
        String taskId = id == null || id.isBlank() ? UUID.randomUUID().toString() : id;
        Task task = new Task(taskId, operation, vdi, totalBytes, clock.instant());
        tasks.put(taskId, task);
        prune();
        return task;
    }

    synchronized Optional<Task> get(String id) {
        return Optional.ofNullable(tasks.get(id));
    }

    synchronized List<Task> list() {
        return new ArrayList<>(tasks.values());
    }

    private void prune() {
        int finished = 0;
        Collection<Task> values = tasks.values();
        for (Task task : values) {
            if (task.status() == Status.SUCCESS || task.status() == Status.FAILURE) {
                finished++;
            }
        }
        for (Iterator<Task> it = values.iterator(); it.hasNext() && finished > MAX_FINISHED; ) {
            Task task = it.next();
            if (task.status() == Status.SUCCESS || task.status() == Status.FAILURE) {
                it.remove();
                finished--;
            }
        }
    }

    /** One transfer. Progress is updated by the transfer's thread and read by anyone. */
    final class Task {
        private final String id;
        private final String operation;
        private final String vdi;
        private final Instant created;
        private final AtomicLong doneBytes = new AtomicLong();
        private volatile long totalBytes;
        private volatile Status status = Status.RUNNING;
        private volatile ErrorCode errorCode;
        private volatile String errorMessage;
        private volatile Instant finished;

        private Task(String id, String operation, String vdi, long totalBytes, Instant created) {
            this.id = id;
            this.operation = operation;
            this.vdi = vdi;
            this.totalBytes = totalBytes;
            this.created = created;
        }

        String id() {
            return id;
        }

        String operation() {
            return operation;
        }

        String vdi() {
            return vdi;
        }

        Instant created() {
            return created;
        }

        Status status() {
            return status;
        }

        long doneBytes() {
            return doneBytes.get();
        }

        long totalBytes() {
            return totalBytes;
        }

        void totalBytes(long total) {
            totalBytes = total;
        }

        void progress(long bytes) {
            doneBytes.addAndGet(bytes);
        }

        /** Fraction done in [0, 1]; 1 when finished successfully. */
        double progressFraction() {
            if (status == Status.SUCCESS) {
                return 1.0;
            }
            long total = totalBytes;
            return total <= 0 ? 0.0 : Math.min(1.0, (double) doneBytes.get() / total);
        }

        Optional<ErrorCode> errorCode() {
            return Optional.ofNullable(errorCode);
        }

        Optional<String> errorMessage() {
            return Optional.ofNullable(errorMessage);
        }

        Optional<Instant> finished() {
            return Optional.ofNullable(finished);
        }

        void succeed() {
            synchronized (Tasks.this) {
                finished = clock.instant();
                status = Status.SUCCESS;
            }
        }

        void fail(ErrorCode code, String message) {
            synchronized (Tasks.this) {
                errorCode = code;
                errorMessage = message;
                finished = clock.instant();
                status = Status.FAILURE;
            }
        }
    }
}
