package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keeps the disk busy while a file is written: every {@link #DEFAULT_INTERVAL} a background thread
 * starts the write-back of the file's dirty pages ({@link FileExtents#startWriteback}, {@code
 * sync_file_range(SYNC_FILE_RANGE_WRITE)}), so the copy and the disk writes overlap and the {@code
 * fsync} that ends the job finds little left to do. Without it the kernel starts writing only past
 * its dirty thresholds, and a 2 GiB copy pays copy time plus write time in a row.
 *
 * <p>Only a hint: a platform or file system without the call, or a file that went away, stops the
 * thread quietly; durability still comes from the writer's own {@code fsync}. Close it before the
 * file is renamed or deleted.
 */
public final class EarlyWriteback implements AutoCloseable {
    /** How often write-back is started: about 25 MB at 1 GB/s. */
    public static final Duration DEFAULT_INTERVAL = Duration.ofMillis(25);

    private final Thread thread;
    private volatile boolean stopped;
    private final AtomicInteger kicks = new AtomicInteger();

    private EarlyWriteback(Path file, Duration interval) {
        this.thread = Thread.ofVirtual().name("writeback-" + file.getFileName()).unstarted(() -> run(file, interval));
    }

    /** Starts write-back of {@code file} every {@link #DEFAULT_INTERVAL} until {@link #close()}. */
    public static EarlyWriteback start(Path file) {
        return start(file, DEFAULT_INTERVAL);
    }

    static EarlyWriteback start(Path file, Duration interval) {
        EarlyWriteback writeback = new EarlyWriteback(file, interval);
        if (FileExtents.available()) {
            writeback.thread.start();
        }
        return writeback;
    }

    private void run(Path file, Duration interval) {
        try {
            while (!stopped) {
                Thread.sleep(interval);
                if (stopped || !FileExtents.startWriteback(file)) {
                    return;
                }
                kicks.incrementAndGet();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // a hint only: the file went away or the call failed; the writer's fsync still decides
        }
    }

    /** How many times write-back was started (for tests). */
    int kicks() {
        return kicks.get();
    }

    /** Stops the thread and waits for it; the file may then be renamed or deleted. */
    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(); // returns at once when it never started
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
