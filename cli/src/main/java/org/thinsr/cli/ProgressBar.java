package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.Locale;

/** A one-line progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a second. */
final class ProgressBar {
    private final PrintWriter err;
    private final String label;
    private final boolean enabled;
    private long lastDrawNanos;
    private boolean drawn;

    ProgressBar(PrintWriter err, String label) {
        this.err = err;
        this.label = label;
        this.enabled = System.console() != null && System.console().isTerminal();
    }

    void update(long done, long total) {
        if (!enabled || total <= 0) {
            return;
        }
        long now = System.nanoTime();
        if (drawn && now - lastDrawNanos < 100_000_000L && done < total) {
            return;
        }
        lastDrawNanos = now;
        drawn = true;
        int percent = (int) (done * 100.0 / total);
        int filled = percent * 30 / 100;
        err.print(String.format(
                Locale.ROOT,
                "\r%s [%-30s] %3d%% %d/%d MiB",
                label,
                "#".repeat(filled),
                percent,
                done >> 20,
                total >> 20));
        err.flush();
    }

    void finish() {
        if (drawn) {
            err.println();
            err.flush();
        }
    }
}
