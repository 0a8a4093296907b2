package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongConsumer;

/**
 * A one-line progress bar on stderr ({@code [#####.....]  42%  1.2 GiB / 3.0 GiB}), redrawn at
 * most every 200 ms; only used when stderr is a terminal.
 */
final class ConvertProgress implements LongConsumer {
    private static final long REDRAW_NANOS = 200_000_000L;
    private static final int WIDTH = 40;

    private final PrintWriter err;
    private final long total;
    private long lastDraw;
    private long done;

    ConvertProgress(PrintWriter err, long total) {
        this.err = err;
        this.total = Math.max(1, total);
    }

    /** Whether a progress bar should be drawn: asked for and stderr is a terminal. */
    @SuppressWarnings("SystemConsoleNull") // its Javadoc still allows null; isTerminal() is the real test
    static boolean wanted(boolean requested) {
        if (!requested) {
            return false;
        }
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    @Override
    public void accept(long value) {
        done = value;
        long now = System.nanoTime();
        if (now - lastDraw >= REDRAW_NANOS) {
            lastDraw = now;
            draw();
        }
    }

    void finish() {
        done = total;
        draw();
        err.println();
        err.flush();
    }

    private void draw() {
        int filled = (int) Math.min(WIDTH, done * WIDTH / total);
        String bar = "#".repeat(filled) + ".".repeat(WIDTH - filled);
        err.print(String.format(
                Locale.ROOT, "\r[%s] %3d%%  %s / %s", bar, done * 100 / total, human(done), human(total)));
        err.flush();
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
