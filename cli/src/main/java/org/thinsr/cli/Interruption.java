package org.thinsr.cli;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Ctrl-C (SIGINT) and SIGTERM as a cancellation request for a long operation: while open, the
 * signal sets {@link #cancelled()} and holds the JVM's shutdown for up to {@code grace} so the
 * operation can undo what it made; {@link #close()} (when the operation ended) lets shutdown go on.
 */
final class Interruption implements AutoCloseable {
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;

    Interruption(Duration grace) {
        hook = new Thread(() -> {
            cancelled.set(true);
            try {
                finished.await(grace.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
    }

    boolean cancelled() {
        return cancelled.get();
    }

    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running: it only waits for the countDown above
        }
    }
}
