package org.thinsr.allocmap;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * A {@link BlockSink} that keeps up to {@code maxInFlight} writes and write-zeroes going at once on
 * {@code executor}, so a forward-only reader (a VHD, tar or raw import) does not wait for each
 * write's round trip. A request that overlaps one still in flight waits for it first, so the final
 * content is what the calls' order says. The first failure is thrown by the next call, and always
 * by {@link #flush()}, which waits for every write and then flushes the delegate; nothing is
 * reported durable before that. One caller thread; the delegate must accept concurrent requests.
 */
public final class WriteBehindSink implements BlockSink {
    private static final int MIN_BUFFER = 64 << 10;

    private final BlockSink delegate;
    private final int maxInFlight;
    private final Executor executor;
    private final boolean closeDelegate;
    private final List<long[]> inFlight = new ArrayList<>();
    private final List<ByteBuffer> free = new ArrayList<>();
    private IOException failure;

    public WriteBehindSink(BlockSink delegate, int maxInFlight, Executor executor, boolean closeDelegate) {
        if (maxInFlight < 1 || maxInFlight > 1024) {
            throw new IllegalArgumentException("writes in flight: " + maxInFlight);
        }
        this.delegate = delegate;
        this.maxInFlight = maxInFlight;
        this.executor = executor;
        this.closeDelegate = closeDelegate;
    }

    @Override
    public long size() throws IOException {
        return delegate.size();
    }

    @FunctionalInterface
    private interface Request {
        void run() throws IOException;
    }

    @Override
    public void write(long offset, ByteBuffer buffer) throws IOException {
        ByteBuffer copy = takeBuffer(buffer.remaining());
        copy.put(buffer).flip();
        try {
            submit(offset, offset + copy.remaining(), () -> {
                try {
                    delegate.write(offset, copy);
                } finally {
                    returnBuffer(copy);
                }
            });
        } catch (IOException | RuntimeException e) {
            returnBuffer(copy);
            throw e;
        }
    }

    /** Keeps {@code buffer} itself until its write is done: no copy. */
    @Override
    public void writeRetained(long offset, ByteBuffer buffer) throws IOException {
        ByteBuffer kept = buffer.slice();
        buffer.position(buffer.limit());
        submit(offset, offset + kept.remaining(), () -> delegate.write(offset, kept));
    }

    /**
     * A direct buffer of at least {@code length} bytes, reused from writes that finished: no garbage
     * per write, and no second copy into a temporary direct buffer when the delegate is a channel.
     */
    private synchronized ByteBuffer takeBuffer(int length) {
        for (int i = 0; i < free.size(); i++) {
            if (free.get(i).capacity() >= length) {
                return free.remove(i).clear().limit(length);
            }
        }
        return ByteBuffer.allocateDirect(Math.max(length, MIN_BUFFER)).limit(length);
    }

    private synchronized void returnBuffer(ByteBuffer buffer) {
        if (free.size() <= maxInFlight) {
            free.add(buffer);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        submit(offset, offset + length, () -> delegate.writeZeroes(offset, length));
    }

    private void submit(long start, long end, Request request) throws IOException {
        long[] range = {start, end};
        synchronized (this) {
            checkFailure();
            while (inFlight.size() >= maxInFlight || overlaps(start, end)) {
                await();
                checkFailure();
            }
            inFlight.add(range);
        }
        executor.execute(() -> {
            IOException error = null;
            try {
                request.run();
            } catch (IOException e) {
                error = e;
            } catch (RuntimeException e) {
                error = new IOException(e.getMessage(), e);
            }
            synchronized (this) {
                inFlight.remove(range);
                if (error != null && failure == null) {
                    failure = error;
                }
                notifyAll();
            }
        });
    }

    private boolean overlaps(long start, long end) {
        for (long[] range : inFlight) {
            if (range[0] < end && start < range[1]) {
                return true;
            }
        }
        return false;
    }

    /** One wait for a state change; every caller re-checks its condition in a loop. */
    @SuppressWarnings("WaitNotInLoop")
    private void await() throws IOException {
        try {
            wait();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for writes in flight");
        }
    }

    private void checkFailure() throws IOException {
        if (failure != null) {
            throw new IOException("an earlier write failed: " + failure.getMessage(), failure);
        }
    }

    /**
     * Waits for every write in flight and throws the first failure, without flushing the delegate:
     * after it, buffers given to {@link #writeRetained} are free again.
     */
    public synchronized void drain() throws IOException {
        while (!inFlight.isEmpty()) {
            await();
        }
        checkFailure();
    }

    @Override
    public void flush() throws IOException {
        drain();
        delegate.flush();
    }

    @Override
    public void close() throws IOException {
        try {
            synchronized (this) {
                while (!inFlight.isEmpty()) {
                    await();
                }
            }
        } finally {
            if (closeDelegate) {
                delegate.close();
            }
        }
    }
}
