package org.thinsr.migrate;

/**
 * A token bucket of {@code bytesPerSecond} with one second of burst, shared by every copy worker.
 * {@link #unlimited()} never waits. Thread-safe.
 */
public final class BandwidthLimiter {
    private final long bytesPerSecond;
    private double tokens;
    private long lastNanos;

    private BandwidthLimiter(long bytesPerSecond) {
        this.bytesPerSecond = bytesPerSecond;
        this.tokens = bytesPerSecond;
        this.lastNanos = System.nanoTime();
    }

    public static BandwidthLimiter unlimited() {
        return new BandwidthLimiter(0);
    }

    public static BandwidthLimiter of(long bytesPerSecond) {
        if (bytesPerSecond <= 0) {
            throw new IllegalArgumentException("bandwidth must be positive: " + bytesPerSecond);
        }
        return new BandwidthLimiter(bytesPerSecond);
    }

    /** The limit in bytes per second; 0 when unlimited. */
    public long bytesPerSecond() {
        return bytesPerSecond;
    }

    /** Waits until {@code bytes} may be sent. */
    public void acquire(long bytes) throws InterruptedException {
        if (bytesPerSecond == 0) {
            return;
        }
        long waitNanos;
        synchronized (this) {
            long now = System.nanoTime();
            tokens = Math.min((double) bytesPerSecond, tokens + (now - lastNanos) * 1e-9 * bytesPerSecond);
            lastNanos = now;
            tokens -= bytes;
            waitNanos = tokens >= 0 ? 0 : (long) (-tokens / bytesPerSecond * 1e9);
        }
        if (waitNanos > 0) {
            Thread.sleep(waitNanos / 1_000_000, (int) (waitNanos % 1_000_000));
        }
    }

    /**
     * Parses {@code 100M}, {@code 1.5G}, {@code 500k} (bytes per second, binary multiples) or a plain
     * number of bytes per second.
     */
    public static BandwidthLimiter parse(String rate) {
        String text = rate.strip();
        char last = text.isEmpty() ? ' ' : Character.toUpperCase(text.charAt(text.length() - 1));
        long multiplier =
                switch (last) {
                    case 'K' -> 1L << 10;
                    case 'M' -> 1L << 20;
                    case 'G' -> 1L << 30;
                    default -> 1;
                };
        String number = multiplier == 1 ? text : text.substring(0, text.length() - 1);
        try {
            double value = Double.parseDouble(number);
            if (!(value > 0) || value * multiplier > Long.MAX_VALUE) {
                throw new NumberFormatException();
            }
            return of((long) (value * multiplier));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "bandwidth: actual '" + rate + "', expected bytes per second like 100M, 1.5G or 500K");
        }
    }
}
