package org.thinsr.migrate;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.vhdstream.ChunkedEncoder;

/**
 * The body of one chunked PUT: xapi's chunked framing ({@link ChunkedEncoder}) of a pass's {@link
 * CopyPlan}, read as an {@link InputStream} through a window of at most {@code windowBytes}, so a
 * pass is never held in memory. Data extents are read from the source; zero extents are carried
 * as zero bytes (the framing has no zero command). Its {@link #length()} is exact before the first
 * byte.
 *
 * <p>Between windows it polls {@code cancelled} and paces with the bandwidth limiter; it counts
 * the data and zero bytes carried and reports them to the listener. The first failure (a source
 * read, a cancellation) is kept in {@link #failure()} so the caller can report it rather than the
 * HTTP client's wrapping of it. Read by one thread at a time; the counters may be read by any.
 * Does not close the source.
 */
final class ChunkedPassBody extends InputStream {
    /** Largest chunk on the wire (the decoder's bound is 64 MiB; xapi's own tools send 2 MiB). */
    static final int MAX_CHUNK_BYTES = 4 << 20;

    static final int WINDOW_BYTES = 1 << 20;

    private final ChunkedEncoder encoder;
    private final long length;
    private final byte[] window;
    private final WindowOutput windowOutput = new WindowOutput();
    private final BandwidthLimiter bandwidth;
    private final BooleanSupplier cancelled;
    private final AtomicLong sentBytes = new AtomicLong();
    private final AtomicLong zeroedBytes = new AtomicLong();
    private volatile Exception failure;
    /** Body bytes handed to the reader. */
    private volatile long consumed;
    /** Stream offset of the window's end. */
    private long position;

    private int windowLength;
    private int windowPosition;

    /**
     * @param maxChunkBytes largest chunk, in [1, 64 MiB]
     * @param windowBytes bytes produced at a time, at least 12
     */
    ChunkedPassBody(
            CopyPlan plan,
            BlockSource source,
            int maxChunkBytes,
            int windowBytes,
            BandwidthLimiter bandwidth,
            SparseCopier.Listener listener,
            BooleanSupplier cancelled)
            throws IOException {
        Objects.requireNonNull(listener, "listener");
        if (windowBytes < 12) {
            throw new IllegalArgumentException("window: actual " + windowBytes + " bytes, expected at least 12");
        }
        long totalData = plan.data().totalLength();
        long totalZeros = plan.zeros().totalLength();
        this.encoder = new ChunkedEncoder(plan.virtualSize(), plan.data(), plan.zeros(), source, maxChunkBytes)
                .pieces((diskOffset, bytes, zeros) -> {
                    long sent = zeros ? sentBytes.get() : sentBytes.addAndGet(bytes);
                    long zeroed = zeros ? zeroedBytes.addAndGet(bytes) : zeroedBytes.get();
                    listener.progress(sent, zeroed, totalData, totalZeros);
                });
        this.length = encoder.length();
        this.window = new byte[(int) Math.min(windowBytes, length)];
        this.bandwidth = Objects.requireNonNull(bandwidth, "bandwidth");
        this.cancelled = Objects.requireNonNull(cancelled, "cancelled");
    }

    /**
     * The exact body length: 12 + length per chunk, plus the 12-byte terminator. Each extent of
     * {@code n} bytes is {@code ceil(n / maxChunk)} chunks.
     */
    long length() {
        return length;
    }

    /** Data bytes (read from the source) handed to the reader so far. */
    long sentBytes() {
        return sentBytes.get();
    }

    /** Zero bytes (of zero extents) handed to the reader so far. */
    long zeroedBytes() {
        return zeroedBytes.get();
    }

    /** Body bytes handed to the reader so far. */
    long position() {
        return consumed;
    }

    /** The first failure while producing the body, if any. */
    Exception failure() {
        return failure;
    }

    @Override
    public synchronized int read() throws IOException {
        if (!ensureWindow()) {
            return -1;
        }
        consumed++;
        return window[windowPosition++] & 0xff;
    }

    @Override
    public synchronized int read(byte[] bytes, int offset, int count) throws IOException {
        Objects.checkFromIndexSize(offset, count, bytes.length);
        if (count == 0) {
            return 0;
        }
        if (!ensureWindow()) {
            return -1;
        }
        int n = Math.min(count, windowLength - windowPosition);
        System.arraycopy(window, windowPosition, bytes, offset, n);
        windowPosition += n;
        consumed += n;
        return n;
    }

    @Override
    public synchronized int available() {
        return windowLength - windowPosition;
    }

    /** False at the end of the body. */
    private boolean ensureWindow() throws IOException {
        if (windowPosition < windowLength) {
            return true;
        }
        if (position == length) {
            return false;
        }
        try {
            if (cancelled.getAsBoolean()) {
                throw new ThinsrException(ErrorCode.CANCELLED, "copy cancelled");
            }
            int n = (int) Math.min(window.length, length - position);
            bandwidth.acquire(n);
            windowOutput.count = 0;
            encoder.writeRange(position, position + n, windowOutput);
            if (windowOutput.count != n) {
                throw new IllegalStateException(
                        "chunk encoder wrote " + windowOutput.count + " bytes at " + position + ", expected " + n);
            }
            position += n;
            windowLength = n;
            windowPosition = 0;
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ThinsrException interrupted = new ThinsrException(ErrorCode.CANCELLED, "copy interrupted");
            remember(interrupted);
            throw interrupted;
        } catch (IOException | RuntimeException e) {
            remember(e);
            throw e;
        }
    }

    private void remember(Exception e) {
        if (failure == null) {
            failure = e;
        }
    }

    /** Writes into the window; bounds-checked. */
    private final class WindowOutput extends OutputStream {
        int count;

        @Override
        public void write(int b) {
            if (count >= window.length) {
                throw new IllegalStateException("chunk encoder wrote past the window of " + window.length);
            }
            window[count++] = (byte) b;
        }

        @Override
        public void write(byte[] bytes, int offset, int n) {
            Objects.checkFromIndexSize(offset, n, bytes.length);
            if (n > window.length - count) {
                throw new IllegalStateException("chunk encoder wrote past the window of " + window.length);
            }
            System.arraycopy(bytes, offset, window, count, n);
            count += n;
        }
    }
}
