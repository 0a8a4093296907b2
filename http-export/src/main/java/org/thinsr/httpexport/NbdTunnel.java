package org.thinsr.httpexport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.IdleTimeout;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.BufferUtil;

/**
 * What an HTTP connection becomes after {@code POST /vdis/{vdi}/nbd} answered {@code 101 Switching
 * Protocols}: a byte pipe between the client and the NBD socket of the daemon that serves the VDI.
 * The client then speaks NBD itself (handshake, writes, flush, disconnect) to that one export; the
 * server frames nothing. Where it can ({@link SpliceRelay}: a plain TCP connection, Linux) the bytes
 * move inside the kernel and never enter the JVM; otherwise (TLS, or {@code
 * -Dthinsr.tunnel.relay=copy}) one virtual thread each way copies them through a buffer, where ranged
 * PUTs cost a request, a parse and a copy into a buffer per MiB. Either side ending or failing
 * closes both; {@code onClosed} runs once, after that (it releases the VDI).
 */
final class NbdTunnel extends AbstractConnection implements Connection.UpgradeTo {
    static final int BUFFER_BYTES = 256 << 10;
    /** System property choosing the relay: {@code splice} (the default, where possible) or {@code copy}. */
    static final String RELAY_PROPERTY = "thinsr.tunnel.relay";

    private final SocketChannel daemon;
    private final Metrics metrics;
    private final Runnable onClosed;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean started = new AtomicBoolean();
    private ByteBuffer early;
    private SpliceRelay kernel;

    NbdTunnel(EndPoint endPoint, SocketChannel daemon, Metrics metrics, Runnable onClosed) {
        super(endPoint, StandardFormats.IO);
        this.daemon = daemon;
        this.metrics = metrics;
        this.onClosed = onClosed;
    }

    /** Bytes the client sent after its request head, already read by the HTTP connection. */
    @Override
    public void onUpgradeTo(ByteBuffer buffer) {
        if (buffer != null && buffer.hasRemaining()) {
            early = ByteBuffer.allocate(buffer.remaining()).put(buffer).flip();
        }
    }

    /**
     * The upgrade did not happen (the {@code 101} could not be sent): the daemon's connection is
     * closed and {@code onClosed} runs, unless the tunnel opened already.
     */
    void abandon() {
        if (started.compareAndSet(false, true)) {
            closed.set(true);
            try {
                daemon.close();
            } catch (IOException ignored) {
                // closing is all that is left to do
            }
            onClosed.run();
        }
    }

    @Override
    public void onOpen() {
        super.onOpen();
        if (!started.compareAndSet(false, true)) {
            getEndPoint().close(); // abandoned before Jetty switched over
            return;
        }
        try {
            kernel = spliceRelay().orElse(null);
        } catch (IOException e) {
            kernel = null; // the copying relay below works wherever the sockets do
        }
        if (kernel != null) {
            metrics.tunnel("splice");
            kernel.start(early, metrics.bytesIn, metrics.bytesOut, this::notIdle, this::closeBoth);
            return;
        }
        metrics.tunnel("copy");
        Thread.ofVirtual().name("nbd-tunnel-in").start(this::clientToDaemon);
        Thread.ofVirtual().name("nbd-tunnel-out").start(this::daemonToClient);
    }

    private Optional<SpliceRelay> spliceRelay() throws IOException {
        if (!"splice".equals(System.getProperty(RELAY_PROPERTY, "splice"))
                || !(getEndPoint() instanceof SocketChannelEndPoint socket)) {
            return Optional.empty(); // TLS: the bytes on the socket are not the NBD stream
        }
        return SpliceRelay.of(socket.getChannel(), daemon);
    }

    /** The kernel moved bytes Jetty did not see: the connection is not idle. */
    private void notIdle() {
        if (getEndPoint() instanceof IdleTimeout idle) {
            idle.notIdle();
        }
    }

    @Override
    public void onFillable() {
        // reads wait on fill interest of their own (clientToDaemon), not on the connection's
    }

    @Override
    public void onClose(Throwable cause) {
        super.onClose(cause);
        shut(); // the client went away or idled out: the daemon's side goes too
    }

    private void clientToDaemon() {
        EndPoint client = getEndPoint();
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
        try {
            if (early != null) {
                writeFully(early);
            }
            while (!closed.get()) {
                BufferUtil.clear(buffer);
                int n = client.fill(buffer);
                if (n < 0) {
                    break;
                }
                if (n == 0) {
                    try (Blocker.Callback readable = Blocker.callback()) {
                        client.fillInterested(readable);
                        readable.block();
                    }
                    continue;
                }
                metrics.bytesIn.add(n);
                writeFully(buffer);
            }
        } catch (IOException | RuntimeException e) {
            // the pipe is broken: both sides are closed below and the client sees its connection end
        } finally {
            shut();
        }
    }

    private void writeFully(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            daemon.write(buffer);
        }
    }

    private void daemonToClient() {
        EndPoint client = getEndPoint();
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
        try {
            while (!closed.get()) {
                buffer.clear();
                if (daemon.read(buffer) < 0) {
                    break;
                }
                buffer.flip();
                metrics.bytesOut.add(buffer.remaining());
                try (Blocker.Callback written = Blocker.callback()) {
                    client.write(written, buffer);
                    written.block();
                }
            }
        } catch (IOException | RuntimeException e) {
            // as above
        } finally {
            shut();
        }
    }

    private void shut() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (kernel != null) {
            kernel.shut(); // closeBoth runs once its pumps have ended
        } else {
            closeBoth();
        }
    }

    private void closeBoth() {
        closed.set(true);
        try {
            daemon.close();
        } catch (IOException ignored) {
            // closing is all that is left to do
        }
        getEndPoint().close();
        onClosed.run();
    }
}
