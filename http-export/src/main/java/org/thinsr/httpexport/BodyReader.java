package org.thinsr.httpexport;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.util.Blocker;

/**
 * Reads a request body chunk by chunk straight from Jetty's network buffers into a caller's buffer
 * (a direct one, for the disk or NBD socket it goes to next): one copy, where an {@code InputStream}
 * over the body copied into a heap array and the channel then into a temporary direct buffer. For
 * a blocking (virtual) thread. Counts what it reads into {@link Metrics#bytesIn}.
 */
final class BodyReader implements AutoCloseable {
    private final Content.Source source;
    private final Metrics metrics;
    private Content.Chunk chunk;
    private boolean ended;
    private long count;

    BodyReader(Content.Source source, Metrics metrics) {
        this.source = source;
        this.metrics = metrics;
    }

    /** Bytes read so far. */
    long count() {
        return count;
    }

    /**
     * Fills {@code target} up to its limit unless the body ends first.
     *
     * @return bytes read, 0 when the body had ended before this call
     */
    int fill(ByteBuffer target) throws IOException {
        int start = target.position();
        while (target.hasRemaining() && !ended) {
            if (chunk == null) {
                chunk = source.read();
                if (chunk == null) {
                    awaitContent();
                    continue;
                }
                if (Content.Chunk.isFailure(chunk)) {
                    Throwable failure = chunk.getFailure();
                    chunk = null;
                    ended = true;
                    throw failure instanceof IOException io
                            ? io
                            : new IOException("reading the request body: " + failure, failure);
                }
            }
            ByteBuffer data = chunk.getByteBuffer();
            int n = Math.min(data.remaining(), target.remaining());
            if (n > 0) {
                target.put(target.position(), data, data.position(), n);
                target.position(target.position() + n);
                data.position(data.position() + n);
            }
            if (!data.hasRemaining()) {
                ended = chunk.isLast();
                chunk.release();
                chunk = null;
            }
        }
        int read = target.position() - start;
        count += read;
        metrics.bytesIn.add(read);
        return read;
    }

    /** {@link #fill}, failing when the body ends before {@code target} is full. */
    void fillFully(ByteBuffer target, long bodyLength) throws IOException {
        fill(target);
        if (target.hasRemaining()) {
            throw new EOFException("request body ended after " + count + " of " + bodyLength + " bytes");
        }
    }

    private void awaitContent() throws IOException {
        try (Blocker.Runnable blocker = Blocker.runnable()) {
            source.demand(blocker);
            blocker.block();
        }
    }

    @Override
    public void close() {
        if (chunk != null) {
            chunk.release();
            chunk = null;
        }
    }
}
