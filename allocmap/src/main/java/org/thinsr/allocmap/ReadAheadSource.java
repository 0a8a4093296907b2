package org.thinsr.allocmap;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;

/**
 * A {@link BlockSource} that reads ahead: the extents a forward-only writer is going to read (its
 * plan) are cut into chunks of {@code chunkBytes}, and up to {@code depth} chunks after the one
 * being read are fetched in parallel on {@code executor}. Requests inside the planned chunks are
 * served from them; anything else goes straight to the delegate. Made for one reader that moves
 * forward (a VHD, tar or raw writer); a backward request costs a direct read, never a wrong byte.
 *
 * <p>Memory: at most {@code (depth + 1) * chunkBytes}. Not thread-safe for callers (one writer);
 * the delegate must allow reads from several threads at once.
 */
public final class ReadAheadSource implements BlockSource {
    private final BlockSource delegate;
    private final boolean closeDelegate;
    private final long[] starts;
    private final long[] ends;
    private final int depth;
    private final Executor executor;
    private final CompletableFuture<?>[] inFlight;
    private int cursor;
    private int scheduled;

    /**
     * @param plan the extents the reader will read, in the order it reads them (ascending)
     * @param closeDelegate whether {@link #close()} closes the delegate too (else it only waits for
     *     the reads in flight, so the caller may close the delegate afterwards)
     */
    public ReadAheadSource(
            BlockSource delegate, ExtentSet plan, int chunkBytes, int depth, Executor executor, boolean closeDelegate) {
        if (chunkBytes < 4096 || depth < 1 || depth > 256) {
            throw new IllegalArgumentException("chunk " + chunkBytes + " bytes, depth " + depth);
        }
        this.delegate = delegate;
        this.closeDelegate = closeDelegate;
        this.depth = depth;
        this.executor = executor;
        long chunks = 0;
        for (int i = 0; i < plan.size(); i++) {
            chunks += (plan.end(i) - plan.start(i) + chunkBytes - 1) / chunkBytes;
        }
        if (chunks > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("plan of " + chunks + " chunks is too large");
        }
        starts = new long[(int) chunks];
        ends = new long[(int) chunks];
        int n = 0;
        for (int i = 0; i < plan.size(); i++) {
            for (long start = plan.start(i); start < plan.end(i); start += chunkBytes) {
                starts[n] = start;
                ends[n] = Math.min(plan.end(i), start + chunkBytes);
                n++;
            }
        }
        inFlight = new CompletableFuture<?>[(int) chunks];
    }

    @Override
    public long size() throws IOException {
        return delegate.size();
    }

    @Override
    public AllocationMap allocationMap() throws IOException {
        return delegate.allocationMap();
    }

    @Override
    public void readFully(long offset, ByteBuffer buffer) throws IOException {
        long end = offset + buffer.remaining();
        int first = chunkAt(offset);
        if (first < 0 || !coveredContiguously(first, end)) {
            delegate.readFully(offset, buffer);
            return;
        }
        for (int index = first; buffer.hasRemaining(); index++) {
            advanceTo(index);
            ByteBuffer chunk = await(index);
            long from = Math.max(offset, starts[index]);
            long to = Math.min(end, ends[index]);
            ByteBuffer slice = chunk.duplicate();
            slice.position((int) (from - starts[index])).limit((int) (to - starts[index]));
            buffer.put(slice);
        }
    }

    /** Index of the planned chunk holding {@code offset} at or after the cursor, or -1. */
    private int chunkAt(long offset) {
        int low = cursor;
        int high = starts.length;
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (ends[mid] <= offset) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        return low < starts.length && starts[low] <= offset ? low : -1;
    }

    private boolean coveredContiguously(int first, long end) {
        for (int index = first; index < starts.length; index++) {
            if (ends[index] >= end) {
                return true;
            }
            if (index + 1 >= starts.length || starts[index + 1] != ends[index]) {
                return false;
            }
        }
        return false;
    }

    /** Moves the cursor to {@code index}, dropping earlier chunks, and schedules up to depth ahead. */
    private void advanceTo(int index) {
        while (cursor < index) {
            inFlight[cursor] = null;
            cursor++;
        }
        scheduled = Math.max(scheduled, cursor);
        while (scheduled < starts.length && scheduled <= cursor + depth) {
            int chunk = scheduled++;
            inFlight[chunk] = CompletableFuture.supplyAsync(() -> fetch(chunk), executor);
        }
    }

    private ByteBuffer fetch(int index) {
        ByteBuffer bytes = ByteBuffer.allocate((int) (ends[index] - starts[index]));
        try {
            delegate.readFully(starts[index], bytes);
        } catch (IOException e) {
            throw new java.util.concurrent.CompletionException(e);
        }
        return bytes.flip();
    }

    private ByteBuffer await(int index) throws IOException {
        try {
            return (ByteBuffer) inFlight[index].get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading ahead at " + starts[index]);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof java.util.concurrent.CompletionException completion
                    && completion.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("read ahead at " + starts[index] + " failed: " + cause, cause);
        }
    }

    @Override
    public void close() throws IOException {
        for (int i = cursor; i < Math.min(scheduled, inFlight.length); i++) {
            CompletableFuture<?> future = inFlight[i];
            if (future != null) {
                try {
                    future.join();
                } catch (RuntimeException ignored) {
                    // the reader is gone; its failure, if any, was or will never be reported
                }
            }
        }
        if (closeDelegate) {
            delegate.close();
        }
    }
}
