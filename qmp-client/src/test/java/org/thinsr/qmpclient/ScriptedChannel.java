package org.thinsr.qmpclient;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;

/**
 * An in-process fake peer: serves scripted bytes, each step only after the client has written a
 * given number of bytes (or lines), and records what the client wrote. Reads return at most {@code
 * maxRead} bytes and never cross the server-stream offset {@code cut}, so a test can split the
 * stream at every point. After the last step reads see end of stream, or block until close when
 * {@code hangAtEnd}.
 */
final class ScriptedChannel implements ByteChannel {
    static final class Step {
        private final int clientBytes;
        private final int clientLines;
        private final byte[] serverBytes;

        Step(int clientBytes, int clientLines, byte[] serverBytes) {
            this.clientBytes = clientBytes;
            this.clientLines = clientLines;
            this.serverBytes = serverBytes.clone();
        }

        int clientBytes() {
            return clientBytes;
        }

        int clientLines() {
            return clientLines;
        }

        byte[] serverBytes() {
            return serverBytes;
        }
    }

    private final List<Step> steps;
    private final int maxRead;
    private final long cut;
    private final boolean hangAtEnd;
    private final ByteArrayOutputStream written = new ByteArrayOutputStream();
    private int lines;
    private int step;
    private int positionInStep;
    private long served;
    private boolean closed;

    ScriptedChannel(List<Step> steps, int maxRead, long cut, boolean hangAtEnd) {
        this.steps = new ArrayList<>(steps);
        this.maxRead = maxRead;
        this.cut = cut;
        this.hangAtEnd = hangAtEnd;
    }

    static ScriptedChannel of(Script script) {
        return new ScriptedChannel(script.steps(), Integer.MAX_VALUE, -1, false);
    }

    @Override
    public synchronized int read(ByteBuffer dst) throws IOException {
        while (true) {
            if (closed) {
                throw new ClosedChannelException();
            }
            if (step >= steps.size()) {
                if (!hangAtEnd) {
                    return -1;
                }
            } else {
                Step current = steps.get(step);
                if (written.size() >= current.clientBytes() && lines >= current.clientLines()) {
                    if (positionInStep < current.serverBytes().length) {
                        break;
                    }
                    step++;
                    positionInStep = 0;
                    continue;
                }
            }
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException();
            }
        }
        byte[] bytes = steps.get(step).serverBytes();
        int n = Math.min(dst.remaining(), bytes.length - positionInStep);
        n = Math.min(n, maxRead);
        if (cut > served && cut < served + n) {
            n = (int) (cut - served);
        }
        dst.put(bytes, positionInStep, n);
        positionInStep += n;
        served += n;
        return n;
    }

    @Override
    public synchronized int write(ByteBuffer src) throws IOException {
        if (closed) {
            throw new ClosedChannelException();
        }
        int n = src.remaining();
        while (src.hasRemaining()) {
            byte b = src.get();
            written.write(b);
            if (b == '\n') {
                lines++;
            }
        }
        notifyAll();
        return n;
    }

    synchronized byte[] written() {
        return written.toByteArray();
    }

    @Override
    public synchronized boolean isOpen() {
        return !closed;
    }

    @Override
    public synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Builds client expectations and server replies side by side. */
    static final class Script {
        private final ByteArrayOutputStream client = new ByteArrayOutputStream();
        private final List<Step> steps = new ArrayList<>();
        private int clientLines;

        /** Bytes the client is expected to write next. */
        Script client(byte[] bytes) {
            client.writeBytes(bytes);
            for (byte b : bytes) {
                if (b == '\n') {
                    clientLines++;
                }
            }
            return this;
        }

        /** Bytes the server sends once the client has written everything expected so far. */
        Script server(byte[] bytes) {
            steps.add(new Step(client.size(), clientLines, bytes));
            return this;
        }

        List<Step> steps() {
            return steps;
        }

        byte[] expectedClient() {
            return client.toByteArray();
        }

        int serverLength() {
            int total = 0;
            for (Step s : steps) {
                total += s.serverBytes().length;
            }
            return total;
        }
    }
}
