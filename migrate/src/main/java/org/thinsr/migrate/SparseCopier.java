package org.thinsr.migrate;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.FileRegion;
import org.thinsr.allocmap.ThinsrException;

/**
 * Executes a {@link CopyPlan}: reads the data extents from a source and writes them to a sink, and
 * zeroes the zero extents, over {@code connections} parallel workers (each with its own source and
 * sink), in chunks of at most {@code chunkBytes}. Holes are never read or sent. Where the source
 * tells where a chunk's bytes lie in its files and the sink can send files ({@link
 * BlockSink#writeRegions}: an NBD socket), the chunk goes from the page cache to the socket without
 * being read into memory.
 *
 * <p>With a {@link CopyJournal}, a worker records what it finished only after flushing its sink
 * (every {@link Options#journalEveryBytes()} bytes or 2 s), so a resumed copy redoes nothing that was
 * durable and skips nothing that was not. The first failure stops every worker and is rethrown;
 * {@code cancelled} is polled between chunks ({@code CANCELLED}).
 */
public final class SparseCopier {
    static final long DEFAULT_JOURNAL_EVERY_BYTES = 64L << 20;
    static final long JOURNAL_EVERY_NANOS = 2_000_000_000L;
    static final long MAX_ZERO_CHUNK_BYTES = 1L << 30;

    /** Opens one endpoint per worker; the copier closes what it opened. */
    @FunctionalInterface
    public interface Opener<T> {
        T open() throws IOException;
    }

    /** Progress in bytes: data sent, zeros written, and the plan's totals. */
    @FunctionalInterface
    public interface Listener {
        void progress(long sentBytes, long zeroedBytes, long totalDataBytes, long totalZeroBytes);
    }

    /**
     * How the copy runs.
     *
     * @param connections parallel workers, 1 to 64
     * @param chunkBytes 64 KiB to 64 MiB
     * @param journalEveryBytes with a journal, each worker flushes its sink and records what it did
     *     at least this often (and at least every 2 s)
     */
    public record Options(int connections, int chunkBytes, BandwidthLimiter bandwidth, long journalEveryBytes) {
        public Options(int connections, int chunkBytes, BandwidthLimiter bandwidth) {
            this(connections, chunkBytes, bandwidth, DEFAULT_JOURNAL_EVERY_BYTES);
        }

        public Options {
            if (journalEveryBytes < chunkBytes) {
                throw new IllegalArgumentException(
                        "journal interval " + journalEveryBytes + " is below the chunk size " + chunkBytes);
            }
            if (connections < 1 || connections > 64) {
                throw new IllegalArgumentException("connections: actual " + connections + ", expected 1 to 64");
            }
            if (chunkBytes < (64 << 10) || chunkBytes > (64 << 20)) {
                throw new IllegalArgumentException("chunk size: actual " + chunkBytes + ", expected 64 KiB to 64 MiB");
            }
            Objects.requireNonNull(bandwidth, "bandwidth");
        }

        public static Options defaults() {
            return new Options(4, 4 << 20, BandwidthLimiter.unlimited());
        }
    }

    /** What a copy did. */
    public record Result(long sentBytes, long zeroedBytes, long skippedBytes, double seconds) {}

    private SparseCopier() {}

    public static Result copy(
            CopyPlan plan,
            Opener<BlockSource> sources,
            Opener<BlockSink> sinks,
            Options options,
            Optional<CopyJournal> journal,
            Listener listener,
            BooleanSupplier cancelled)
            throws IOException {
        long started = System.nanoTime();
        CopyPlan todo = journal.map(j -> plan.minus(j.doneAtOpen())).orElse(plan);
        long skipped = plan.bytesToSend() - todo.bytesToSend();
        Work work = Work.of(todo, options.chunkBytes());
        AtomicLong sent = new AtomicLong();
        AtomicLong zeroed = new AtomicLong();
        AtomicBoolean failed = new AtomicBoolean();
        long totalData = todo.data().totalLength();
        long totalZeros = todo.zeros().totalLength();
        int workers = Math.max(1, Math.min(options.connections(), work.size()));
        ExecutorService pool = Executors.newFixedThreadPool(workers, runnable -> {
            Thread thread = new Thread(runnable, "thinsr-copy");
            thread.setDaemon(true);
            return thread;
        });
        try {
            List<Future<Void>> futures = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                futures.add(pool.submit(() -> {
                    runWorker(
                            work,
                            sources,
                            sinks,
                            options,
                            journal,
                            failed,
                            cancelled,
                            sent,
                            zeroed,
                            () -> listener.progress(sent.get(), zeroed.get(), totalData, totalZeros));
                    return null;
                }));
            }
            Throwable first = null;
            for (Future<Void> future : futures) {
                try {
                    future.get();
                } catch (ExecutionException e) {
                    failed.set(true);
                    if (first == null) {
                        first = e.getCause();
                    }
                } catch (InterruptedException e) {
                    failed.set(true);
                    Thread.currentThread().interrupt();
                    throw new ThinsrException(ErrorCode.CANCELLED, "copy interrupted");
                }
            }
            if (first != null) {
                switch (first) {
                    case IOException io -> throw io;
                    case RuntimeException runtime -> throw runtime;
                    case Error error -> throw error;
                    default -> throw new IOException(first);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        listener.progress(sent.get(), zeroed.get(), totalData, totalZeros);
        return new Result(sent.get(), zeroed.get(), skipped, (System.nanoTime() - started) / 1e9);
    }

    private static void runWorker(
            Work work,
            Opener<BlockSource> sources,
            Opener<BlockSink> sinks,
            Options options,
            Optional<CopyJournal> journal,
            AtomicBoolean failed,
            BooleanSupplier cancelled,
            AtomicLong sent,
            AtomicLong zeroed,
            Runnable progress)
            throws IOException, InterruptedException {
        try (BlockSource source = sources.open();
                BlockSink sink = sinks.open()) {
            // direct: socket and file I/O use it as is, with no copy through a temporary direct buffer
            ByteBuffer buffer = ByteBuffer.allocateDirect(options.chunkBytes());
            ExtentSet.Builder unflushed = ExtentSet.builder();
            long unflushedBytes = 0;
            long lastJournalNanos = System.nanoTime();
            boolean sinkTakesRegions = true;
            int item;
            while ((item = work.next()) >= 0) {
                if (failed.get()) {
                    return;
                }
                if (cancelled.getAsBoolean()) {
                    failed.set(true);
                    throw new ThinsrException(ErrorCode.CANCELLED, "copy cancelled");
                }
                long start = work.start(item);
                long end = work.end(item);
                if (work.isData(item)) {
                    int length = (int) (end - start);
                    options.bandwidth().acquire(length);
                    Optional<List<FileRegion>> regions =
                            sinkTakesRegions ? source.regions(start, length) : Optional.empty();
                    if (regions.isPresent() && !sink.writeRegions(start, regions.get())) {
                        sinkTakesRegions = false; // a sink that cannot send files never will: stop asking
                        regions = Optional.empty();
                    }
                    if (regions.isEmpty()) {
                        buffer.clear().limit(length);
                        source.readFully(start, buffer);
                        buffer.flip();
                        sink.write(start, buffer);
                    }
                    sent.addAndGet(length);
                } else {
                    sink.writeZeroes(start, end - start);
                    zeroed.addAndGet(end - start);
                }
                unflushed.add(start, end);
                unflushedBytes += end - start;
                if (journal.isPresent()
                        && (unflushedBytes >= options.journalEveryBytes()
                                || System.nanoTime() - lastJournalNanos >= JOURNAL_EVERY_NANOS)) {
                    flushAndRecord(sink, journal.get(), unflushed.build());
                    unflushed = ExtentSet.builder();
                    unflushedBytes = 0;
                    lastJournalNanos = System.nanoTime();
                }
                progress.run();
            }
            sink.flush();
            if (journal.isPresent()) {
                journal.get().record(unflushed.build());
            }
        }
    }

    private static void flushAndRecord(BlockSink sink, CopyJournal journal, ExtentSet done) throws IOException {
        sink.flush();
        journal.record(done);
    }

    /** The plan cut into chunks, handed out in ascending order to whichever worker asks. */
    private static final class Work {
        private final long[] bounds;
        private final boolean[] data;
        private final AtomicInteger nextIndex = new AtomicInteger();

        private Work(long[] bounds, boolean[] data) {
            this.bounds = bounds;
            this.data = data;
        }

        static Work of(CopyPlan plan, int chunkBytes) {
            List<long[]> items = new ArrayList<>();
            cut(plan.data(), chunkBytes, true, items);
            cut(plan.zeros(), MAX_ZERO_CHUNK_BYTES, false, items);
            items.sort((a, b) -> Long.compare(a[0], b[0]));
            long[] bounds = new long[items.size() * 2];
            boolean[] data = new boolean[items.size()];
            for (int i = 0; i < items.size(); i++) {
                bounds[2 * i] = items.get(i)[0];
                bounds[2 * i + 1] = items.get(i)[1];
                data[i] = items.get(i)[2] == 1;
            }
            return new Work(bounds, data);
        }

        private static void cut(ExtentSet set, long chunk, boolean isData, List<long[]> into) {
            for (int i = 0; i < set.size(); i++) {
                for (long start = set.start(i); start < set.end(i); start += chunk) {
                    into.add(new long[] {start, Math.min(set.end(i), start + chunk), isData ? 1 : 0});
                }
            }
        }

        int size() {
            return data.length;
        }

        int next() {
            int index = nextIndex.getAndIncrement();
            return index < data.length ? index : -1;
        }

        long start(int item) {
            return bounds[2 * item];
        }

        long end(int item) {
            return bounds[2 * item + 1];
        }

        boolean isData(int item) {
            return data[item];
        }
    }
}
