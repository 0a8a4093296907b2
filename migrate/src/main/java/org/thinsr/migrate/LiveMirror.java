package org.thinsr.migrate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.Attachment;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.QemuMonitor;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.VdiView;
import org.thinsr.qmpclient.NbdBlockSink;
import org.thinsr.qmpclient.NbdUri;
import org.thinsr.qmpclient.QmpClient;
import org.thinsr.qmpclient.QmpEvent;
import org.thinsr.qmpclient.QmpEventListener;
import org.thinsr.qmpclient.QmpException;

/**
 * Live storage migration of an attached VDI by qemu's own mirror: the {@code qemu-storage-daemon}
 * that serves the VDI's attachment copies it into an NBD export while the guest keeps writing, then
 * switches its export over to that export (the pivot).
 *
 * <ol>
 *   <li>Check: the destination is an {@code nbd://} or {@code nbd+unix://} export at least as large
 *       as the VDI; the VDI is attached through a qemu process with a QMP monitor ({@link
 *       Lifecycle#vdiMonitor}); no block job runs there.
 *   <li>{@code blockdev-add} the destination as an {@code nbd} node; {@code blockdev-mirror} from the
 *       node the VDI's export currently serves, {@code sync: full}, {@code copy-mode:
 *       write-blocking}, errors reported (the job fails rather than pauses).
 *   <li>Poll {@code query-jobs} (woken early by {@code JOB_STATUS_CHANGE}) and report status and
 *       progress; on {@code ready}, {@code job-complete}; wait for {@code concluded}; {@code
 *       job-dismiss}.
 * </ol>
 *
 * <p>{@code write-blocking}: once a region is copied, every guest write to it is written to the
 * destination before it completes, so the dirty set only shrinks and the job always converges,
 * however fast the guest writes; the cost is guest write latency of the slower of the two sides
 * during the mirror. (qemu's default, {@code background}, copies dirty blocks asynchronously and
 * may never become ready under a steady write load.)
 *
 * <p>After success the VDI's export reads and writes the destination: the guest continues there.
 * The source volume keeps the content as of the pivot and receives no more writes; detaching the VDI
 * stops the daemon and with it the connection to the destination. No {@code content_id} is set,
 * because the two sides diverge from the pivot on.
 *
 * <p>On a job error, {@code cancelled} before {@code job-complete} was sent, or a stall (no progress
 * for {@link Options#stallTimeout}): {@code job-cancel}, wait, dismiss, {@code blockdev-del} of the
 * destination node; the VDI stays attached to its source, unchanged. Once {@code job-complete} was
 * sent, cancellation is ignored and the pivot is awaited for at most {@link Options#finishTimeout}.
 *
 * <p>Not thread-safe: one instance runs one mirror at a time.
 */
public final class LiveMirror {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Status and progress of the mirror job, for bars and JSON events. Called from the caller's thread. */
    public interface Listener {
        /** The job's status changed: qemu's {@code JobStatus} name ({@code running}, {@code ready}, ...). */
        void jobStatus(String status);

        /** Bytes copied of the total so far; the total grows when the guest writes to copied blocks. */
        void progress(long copiedBytes, long totalBytes);
    }

    /**
     * How a live mirror runs.
     *
     * @param bytesPerSecond the job's {@code speed} limit, 0 for none
     * @param commandTimeout the longest wait for one QMP reply
     * @param stallTimeout a running job whose progress does not move for this long is cancelled
     * @param finishTimeout the longest wait for the pivot after {@code job-complete}, and for the job
     *     to end after {@code job-cancel}
     * @param pollInterval how often {@code query-jobs} runs
     */
    public record Options(
            long bytesPerSecond,
            Duration commandTimeout,
            Duration stallTimeout,
            Duration finishTimeout,
            Duration pollInterval) {
        public Options {
            if (bytesPerSecond < 0) {
                throw new IllegalArgumentException("bytesPerSecond is negative: " + bytesPerSecond);
            }
            for (Duration duration : new Duration[] {commandTimeout, stallTimeout, finishTimeout, pollInterval}) {
                Objects.requireNonNull(duration, "duration");
                if (duration.isNegative() || duration.isZero()) {
                    throw new IllegalArgumentException("duration is not positive: " + duration);
                }
            }
        }

        /** 60 s per command, 5 min stall, 90 s to finish or cancel, polled 5 times a second. */
        public static Options defaults(long bytesPerSecond) {
            return new Options(
                    bytesPerSecond,
                    Duration.ofSeconds(60),
                    Duration.ofMinutes(5),
                    Duration.ofSeconds(90),
                    Duration.ofMillis(200));
        }
    }

    /**
     * What a live mirror did.
     *
     * @param node the destination's block node in the daemon, now serving the VDI's export
     * @param copiedBytes the job's final progress: bytes written to the destination, including
     *     writes mirrored while it ran
     */
    public record Report(
            String vdi,
            String destination,
            String jobId,
            String node,
            long virtualSize,
            long copiedBytes,
            double seconds) {}

    private final Lifecycle lifecycle;
    private final Optional<SrRef> sr;
    private final Options options;
    private final Listener listener;
    private final BooleanSupplier cancelled;

    public LiveMirror(
            Lifecycle lifecycle, Optional<SrRef> sr, Options options, Listener listener, BooleanSupplier cancelled) {
        this.lifecycle = Objects.requireNonNull(lifecycle, "lifecycle");
        this.sr = Objects.requireNonNull(sr, "sr");
        this.options = Objects.requireNonNull(options, "options");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.cancelled = Objects.requireNonNull(cancelled, "cancelled");
    }

    /**
     * Parses a live migration destination.
     *
     * @throws ThinsrException {@code USAGE} unless it is an {@code nbd://} or {@code nbd+unix://} URI
     */
    public static NbdUri destination(String text) {
        String expected = "expected an NBD export: nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH";
        String scheme =
                text.contains(":") ? text.substring(0, text.indexOf(':')).toLowerCase(Locale.ROOT) : "";
        if (!scheme.equals("nbd") && !scheme.equals("nbd+unix")) {
            throw new ThinsrException(
                    ErrorCode.USAGE, "live migration destination: actual '" + text + "', " + expected, text);
        }
        try {
            return NbdUri.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ThinsrException(ErrorCode.USAGE, e.getMessage() + "; " + expected, e, text);
        }
    }

    /**
     * Mirrors attached VDI {@code vdiUuid} into the NBD export {@code destination} and switches its
     * export over to it.
     *
     * @throws ThinsrException {@code USAGE} for a destination that is not NBD or a VDI that is not
     *     attached through qemu; {@code NO_SPACE} for a destination smaller than the VDI; {@code
     *     VDI_IN_USE} when a block job runs on the VDI; {@code TOOL_FAILED} when the job fails (with
     *     qemu's message); {@code CANCELLED}; {@code TIMED_OUT} for a stalled job
     * @throws IOException when the monitor or the destination cannot be reached
     */
    public Report run(String vdiUuid, String destination) throws IOException {
        long started = System.nanoTime();
        NbdUri uri = destination(destination);
        VdiView vdi = lifecycle.vdiStat(sr, vdiUuid);
        if (vdi.uri() != null) {
            throw new ThinsrException(ErrorCode.VDI_IS_TEMPLATE, "VDI " + vdiUuid + " is a template: nothing to move");
        }
        Attachment attachment = vdi.attachment();
        if (attachment == null) {
            throw new ThinsrException(
                    ErrorCode.USAGE,
                    "live migration of VDI " + vdiUuid + ": actual not attached, expected attached through"
                            + " qemu-storage-daemon (a file SR); attach it or migrate without --live",
                    vdiUuid);
        }
        QemuMonitor monitor = lifecycle
                .vdiMonitor(sr, vdiUuid)
                .orElseThrow(() -> new ThinsrException(
                        ErrorCode.USAGE,
                        "live migration of VDI " + vdiUuid + ": actual attached as "
                                + attachment.kind().smapiName()
                                + " " + attachment.target() + " without a qemu monitor, expected attached through"
                                + " qemu-storage-daemon (a file SR, attached by this version of thinsr)",
                        vdiUuid));
        long virtualSize = vdi.virtualSizeBytes();
        try (NbdBlockSink sink = NbdBlockSink.open(uri, 1)) {
            if (sink.size() < virtualSize) {
                throw new ThinsrException(
                        ErrorCode.NO_SPACE,
                        "NBD export " + destination + " has " + sink.size() + " bytes, the VDI needs " + virtualSize,
                        destination);
            }
        }
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String jobId = "thinsr-live-" + suffix;
        String node = "thinsr-mirror-" + suffix;
        try (QmpClient client =
                QmpClient.connect(monitor.socket(), new QmpClient.Options(options.commandTimeout(), 16 << 20))) {
            String source = monitor.exportNode(client);
            JsonNode jobs = client.execute("query-jobs", null);
            if (!jobs.isArray()) {
                throw new IOException("query-jobs reply: actual " + jobs.getNodeType() + ", expected an array");
            }
            if (!jobs.isEmpty()) {
                throw new ThinsrException(
                        ErrorCode.VDI_IN_USE,
                        "VDI " + vdiUuid + " has a block job running ("
                                + jobs.get(0).path("id").asText() + ", "
                                + jobs.get(0).path("status").asText() + "): wait for it to end",
                        vdiUuid);
            }
            try {
                client.execute("blockdev-add", nbdNode(node, uri));
            } catch (QmpException e) {
                throw new ThinsrException(
                        ErrorCode.TOOL_FAILED,
                        "live migration of VDI " + vdiUuid + ": qemu cannot open NBD export " + destination + ": "
                                + e.description(),
                        e,
                        vdiUuid);
            }
            LinkedBlockingQueue<QmpEvent> wakeups = new LinkedBlockingQueue<>();
            QmpEventListener events = event -> {
                if (event.name().equals(QmpEvent.JOB_STATUS_CHANGE)
                        && jobId.equals(event.data().path("id").asText())) {
                    wakeups.offer(event);
                }
            };
            client.addEventListener(events);
            try {
                client.execute("blockdev-mirror", mirror(jobId, source, node));
            } catch (QmpException e) {
                client.removeEventListener(events);
                ThinsrException refused = new ThinsrException(
                        ErrorCode.TOOL_FAILED,
                        "live migration of VDI " + vdiUuid + ": qemu refused blockdev-mirror to " + destination + ": "
                                + e.description() + "; the VDI stays on its source",
                        e,
                        vdiUuid);
                deleteNode(client, node, refused);
                throw refused;
            } catch (IOException | RuntimeException e) {
                client.removeEventListener(events);
                deleteNode(client, node, e);
                throw e;
            }
            try {
                MirrorJob last = follow(client, jobId, node, vdiUuid, wakeups);
                String now = monitor.exportNode(client);
                if (!now.equals(node)) {
                    throw new ThinsrException(
                            ErrorCode.TOOL_FAILED,
                            "live migration of VDI " + vdiUuid + ": job " + jobId + " concluded but the export"
                                    + " serves node '" + now + "', expected '" + node + "'",
                            vdiUuid);
                }
                return new Report(
                        vdiUuid,
                        destination,
                        jobId,
                        node,
                        virtualSize,
                        last.currentBytes(),
                        (System.nanoTime() - started) / 1e9);
            } finally {
                client.removeEventListener(events);
            }
        }
    }

    /** Runs the job to its end: the last state seen, concluded without error and dismissed. */
    private MirrorJob follow(
            QmpClient client, String jobId, String node, String vdiUuid, LinkedBlockingQueue<QmpEvent> wakeups)
            throws IOException {
        MirrorJob.Status reported = null;
        long lastProgress = -1;
        long lastMoved = System.nanoTime();
        boolean completing = false;
        long completeSent = 0;
        MirrorJob job;
        try {
            while (true) {
                job = query(client, jobId);
                if (job.status() != reported) {
                    reported = job.status();
                    listener.jobStatus(reported.qmpName());
                }
                listener.progress(job.doneBytes(), job.totalBytes());
                if (job.currentBytes() != lastProgress) {
                    lastProgress = job.currentBytes();
                    lastMoved = System.nanoTime();
                }
                switch (job.status()) {
                    case CONCLUDED -> {
                        client.execute("job-dismiss", object().put("id", jobId));
                        if (job.error() != null) {
                            deleteNode(client, node, null);
                            throw new ThinsrException(
                                    ErrorCode.TOOL_FAILED,
                                    "live migration of VDI " + vdiUuid + " failed after " + job.currentBytes()
                                            + " of " + job.totalBytes() + " bytes: " + job.error()
                                            + "; the VDI stays on its source",
                                    vdiUuid);
                        }
                        if (!completing) {
                            deleteNode(client, node, null);
                            throw new ThinsrException(
                                    ErrorCode.TOOL_FAILED,
                                    "live migration of VDI " + vdiUuid + ": job " + jobId
                                            + " concluded before it was completed; the VDI stays on its source",
                                    vdiUuid);
                        }
                        return job;
                    }
                    case READY -> {
                        if (!completing && cancelled.getAsBoolean()) {
                            throw cancel(client, jobId, node, vdiUuid, "cancelled", null);
                        }
                        if (!completing) {
                            client.execute("job-complete", object().put("id", jobId));
                            completing = true;
                            completeSent = System.nanoTime();
                        }
                    }
                    case UNDEFINED, CREATED, RUNNING, PAUSED, STANDBY, WAITING, PENDING, ABORTING, NULL -> {
                        if (!completing && cancelled.getAsBoolean()) {
                            throw cancel(client, jobId, node, vdiUuid, "cancelled", null);
                        }
                        if (!completing
                                && job.status() == MirrorJob.Status.RUNNING
                                && System.nanoTime() - lastMoved
                                        > options.stallTimeout().toNanos()) {
                            throw cancel(
                                    client,
                                    jobId,
                                    node,
                                    vdiUuid,
                                    "stalled at " + job.currentBytes() + " of " + job.totalBytes() + " bytes for "
                                            + options.stallTimeout().toSeconds() + " s",
                                    null);
                        }
                    }
                }
                if (completing
                        && System.nanoTime() - completeSent
                                > options.finishTimeout().toNanos()) {
                    throw new ThinsrException(
                            ErrorCode.TIMED_OUT,
                            "live migration of VDI " + vdiUuid + ": job " + jobId + " did not conclude within "
                                    + options.finishTimeout().toSeconds() + " s of job-complete (status "
                                    + job.status().qmpName() + "); it may still switch to the destination",
                            vdiUuid);
                }
                QmpEvent _ = wakeups.poll(options.pollInterval().toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException interrupted = new InterruptedIOException("interrupted while mirroring " + vdiUuid);
            if (!completing) {
                throw cancel(client, jobId, node, vdiUuid, "interrupted", interrupted);
            }
            throw interrupted;
        } catch (IOException | RuntimeException e) {
            if (!completing && !(e instanceof ThinsrException) && client.isAlive()) {
                ThinsrException failure = cancel(client, jobId, node, vdiUuid, e.getMessage(), e);
                throw failure;
            }
            throw e;
        }
    }

    /**
     * Cancels the job, waits for it to end (bounded), dismisses it and removes the destination node;
     * returns the error to throw: {@code CANCELLED}, or {@code TIMED_OUT} for a stall, or the cause's.
     */
    private ThinsrException cancel(
            QmpClient client, String jobId, String node, String vdiUuid, String reason, Exception cause) {
        ErrorCode code = reason.equals("cancelled") || reason.equals("interrupted")
                ? ErrorCode.CANCELLED
                : reason.startsWith("stalled") ? ErrorCode.TIMED_OUT : ErrorCode.TOOL_FAILED;
        ThinsrException failure = new ThinsrException(
                code,
                "live migration of VDI " + vdiUuid + " " + reason + "; job " + jobId
                        + " cancelled, the VDI stays on its source",
                cause,
                vdiUuid);
        try {
            client.execute("job-cancel", object().put("id", jobId));
            long deadline = System.nanoTime() + options.finishTimeout().toNanos();
            while (true) {
                Optional<MirrorJob> job = MirrorJob.find(client.execute("query-jobs", null), jobId);
                if (job.isEmpty()) {
                    break;
                }
                if (job.get().status() == MirrorJob.Status.CONCLUDED) {
                    client.execute("job-dismiss", object().put("id", jobId));
                    break;
                }
                if (System.nanoTime() > deadline) {
                    failure.addSuppressed(new IOException("job " + jobId + " did not end within "
                            + options.finishTimeout().toSeconds() + " s of job-cancel (status "
                            + job.get().status().qmpName() + "); node " + node + " is left in the daemon"));
                    return failure;
                }
                Thread.sleep(options.pollInterval().toMillis());
            }
            deleteNode(client, node, failure);
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure.addSuppressed(e);
        }
        return failure;
    }

    private static MirrorJob query(QmpClient client, String jobId) throws IOException {
        return MirrorJob.find(client.execute("query-jobs", null), jobId)
                .orElseThrow(() -> new IOException("job " + jobId + " vanished from query-jobs"));
    }

    private static void deleteNode(QmpClient client, String node, Exception failure) {
        try {
            client.execute("blockdev-del", object().put("node-name", node));
        } catch (IOException | RuntimeException e) {
            if (failure != null) {
                failure.addSuppressed(e);
            }
        }
    }

    /** {@code blockdev-add} options of an {@code nbd} node for {@code uri} (qapi {@code BlockdevOptionsNbd}). */
    static ObjectNode nbdNode(String node, NbdUri uri) {
        ObjectNode options = object().put("driver", "nbd").put("node-name", node);
        ObjectNode server = options.putObject("server");
        if (uri.isUnix()) {
            server.put("type", "unix").put("path", uri.socket().toString());
        } else {
            server.put("type", "inet").put("host", uri.host()).put("port", Integer.toString(uri.port()));
        }
        if (!uri.exportName().isEmpty()) {
            options.put("export", uri.exportName());
        }
        return options;
    }

    /** {@code blockdev-mirror} arguments (qapi {@code block-core.json}). */
    ObjectNode mirror(String jobId, String source, String target) {
        ObjectNode arguments = object().put("job-id", jobId)
                .put("device", source)
                .put("target", target)
                .put("sync", "full")
                .put("copy-mode", "write-blocking")
                .put("on-source-error", "report")
                .put("on-target-error", "report")
                .put("auto-finalize", true)
                .put("auto-dismiss", false);
        if (options.bytesPerSecond() > 0) {
            arguments.put("speed", options.bytesPerSecond());
        }
        return arguments;
    }

    private static ObjectNode object() {
        return JSON.createObjectNode();
    }
}
