package org.thinsr.httpexport;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.thinsr.allocmap.ErrorCode;

/** Counters of the service, rendered in the Prometheus text exposition format. Thread-safe. */
final class Metrics {
    final LongAdder bytesIn = new LongAdder();
    final LongAdder bytesOut = new LongAdder();
    final LongAdder requests = new LongAdder();
    private final ConcurrentHashMap<ErrorCode, LongAdder> errors = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, LongAdder> tunnels = new ConcurrentHashMap<>();

    void error(ErrorCode code) {
        errors.computeIfAbsent(code, key -> new LongAdder()).increment();
    }

    void status(int status) {
        statuses.computeIfAbsent(status, key -> new LongAdder()).increment();
    }

    /** An NBD tunnel opened, relaying with {@code relay} ({@code splice} or {@code copy}). */
    void tunnel(String relay) {
        tunnels.computeIfAbsent(relay, key -> new LongAdder()).increment();
    }

    long errorCount(ErrorCode code) {
        LongAdder adder = errors.get(code);
        return adder == null ? 0 : adder.sum();
    }

    String render(int transfersActive) {
        StringBuilder text = new StringBuilder();
        counter(text, "thinsr_http_requests_total", "HTTP requests handled.", requests.sum());
        counter(text, "thinsr_http_bytes_in_total", "Request body bytes read.", bytesIn.sum());
        counter(text, "thinsr_http_bytes_out_total", "Response body bytes written.", bytesOut.sum());
        text.append("# HELP thinsr_transfers_active Transfers in flight.\n")
                .append("# TYPE thinsr_transfers_active gauge\n")
                .append("thinsr_transfers_active ")
                .append(transfersActive)
                .append('\n');
        labelled(text, "thinsr_http_responses_total", "Responses by status.", "status", statuses);
        labelled(
                text,
                "thinsr_nbd_tunnels_total",
                "NBD tunnels opened, by relay (splice: in the kernel).",
                "relay",
                tunnels);
        labelled(text, "thinsr_errors_total", "Failed operations by error code.", "code", errors);
        return text.toString();
    }

    /** A counter with one label, a line per value seen, in the order of the values. */
    private static <K extends Comparable<K>> void labelled(
            StringBuilder text, String name, String help, String label, Map<K, LongAdder> values) {
        text.append("# HELP ").append(name).append(' ').append(help).append('\n');
        text.append("# TYPE ").append(name).append(" counter\n");
        for (Map.Entry<K, LongAdder> entry : new TreeMap<>(values).entrySet()) {
            text.append(name)
                    .append('{')
                    .append(label)
                    .append("=\"")
                    .append(entry.getKey() instanceof Enum<?> constant ? constant.name() : entry.getKey())
                    .append("\"} ")
                    .append(entry.getValue().sum())
                    .append('\n');
        }
    }

    private static void counter(StringBuilder text, String name, String help, long value) {
        text.append("# HELP ").append(name).append(' ').append(help).append('\n');
        text.append("# TYPE ").append(name).append(" counter\n");
        text.append(name).append(' ').append(value).append('\n');
    }
}
