package org.thinsr.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Locale;
import org.thinsr.migrate.LiveMirror;
import org.thinsr.migrate.Migration;

/**
 * Migration progress: a bar with throughput and ETA on a terminal's stderr, or with {@code --json}
 * one JSON event per line on stdout ({@code {"event":"progress","pass":1,"sent_bytes":…}}), at most
 * ten a second. A live mirror ({@code --live}) reports as pass 1 whose total grows with the guest's
 * writes, plus {@code {"event":"job","status":"ready"}} when qemu's job changes status.
 */
final class MigrationProgress implements Migration.Listener, LiveMirror.Listener {
    private final PrintWriter out;
    private final boolean json;
    private final ProgressBar bar;
    private final long startedNanos = System.nanoTime();
    private long lastEventNanos;

    MigrationProgress(PrintWriter out, PrintWriter err, boolean json) {
        this.out = out;
        this.json = json;
        this.bar = new ProgressBar(err, "migrate");
    }

    @Override
    public void pass(int pass, long bytesToSend, long bytesToZero) {
        if (json) {
            event("pass", pass, 0, 0, bytesToSend, bytesToZero);
        }
    }

    @Override
    public synchronized void progress(
            int pass, long sentBytes, long zeroedBytes, long totalDataBytes, long totalZeroBytes) {
        if (json) {
            long now = System.nanoTime();
            if (now - lastEventNanos >= 100_000_000L || sentBytes == totalDataBytes) {
                lastEventNanos = now;
                event("progress", pass, sentBytes, zeroedBytes, totalDataBytes, totalZeroBytes);
            }
        } else {
            bar.update(sentBytes, totalDataBytes);
        }
    }

    @Override
    public void jobStatus(String status) {
        if (json) {
            StringWriter text = new StringWriter();
            try (JsonGenerator generator = new JsonFactory().createGenerator(text)) {
                generator.writeStartObject();
                generator.writeStringField("event", "job");
                generator.writeStringField("status", status);
                generator.writeEndObject();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            out.println(text);
            out.flush();
        }
    }

    @Override
    public void progress(long copiedBytes, long totalBytes) {
        progress(1, copiedBytes, 0, totalBytes, 0);
    }

    void finish() {
        bar.finish();
    }

    private void event(String kind, int pass, long sent, long zeroed, long totalData, long totalZeros) {
        double seconds = (System.nanoTime() - startedNanos) / 1e9;
        StringWriter text = new StringWriter();
        try (JsonGenerator generator = new JsonFactory().createGenerator(text)) {
            generator.writeStartObject();
            generator.writeStringField("event", kind);
            generator.writeNumberField("pass", pass);
            generator.writeNumberField("sent_bytes", sent);
            generator.writeNumberField("zeroed_bytes", zeroed);
            generator.writeNumberField("total_data_bytes", totalData);
            generator.writeNumberField("total_zero_bytes", totalZeros);
            generator.writeNumberField(
                    "elapsed_seconds", Double.parseDouble(String.format(Locale.ROOT, "%.3f", seconds)));
            double rate = seconds > 0 ? sent / seconds : 0;
            generator.writeNumberField("bytes_per_second", (long) rate);
            generator.writeNumberField("eta_seconds", rate > 0 ? (long) ((totalData - sent) / rate) : -1);
            generator.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.println(text);
        out.flush();
    }
}
