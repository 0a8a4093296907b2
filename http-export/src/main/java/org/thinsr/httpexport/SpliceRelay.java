package org.thinsr.httpexport;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * A byte pipe between two sockets that never brings the bytes into the JVM: each way, {@code
 * splice(2)} moves what arrives on one socket into a kernel pipe and from the pipe into the other
 * socket, so the pages a TCP socket received are handed on by reference where a copying relay reads
 * them into a buffer and writes them out again (two copies of every byte, a core's worth on a fast
 * migration). One platform thread each way waits in {@code poll(2)}; both sockets stay non-blocking.
 *
 * <p>The relay works on duplicates of the sockets' descriptors, so the channels that own them may be
 * closed at any time without a descriptor number being reused under a running pump; the duplicates
 * are closed after both pumps have ended. {@link #shut} wakes the pumps with {@code shutdown(2)}.
 *
 * <p>Only where the kernel interface is reachable: Linux on x86-64 or AArch64 (whose constants
 * these are), native access enabled, and {@code java.base/sun.nio.ch} exported to this code (the
 * jar's manifest does it; {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} on a class path)
 * for the channels' descriptors. Elsewhere {@link #of} is empty and the caller copies.
 */
final class SpliceRelay {
    private static final int SPLICE_F_MOVE = 1;
    private static final int SPLICE_F_NONBLOCK = 2;
    private static final int O_NONBLOCK = 0x800;
    private static final int O_CLOEXEC = 0x80000;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int F_SETPIPE_SZ = 1031;
    private static final short POLLIN = 1;
    private static final short POLLOUT = 4;
    private static final int SHUT_RDWR = 2;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    /** What each way's pipe holds at most: 256 pages, what {@code fs.pipe-max-size} allows by default. */
    static final int PIPE_BYTES = 1 << 20;
    /** How long a pump waits in {@code poll} before it looks whether the relay was shut. */
    private static final int POLL_MILLIS = 1000;

    private static final Native NATIVE = Native.load();
    private static final Method FD_VAL = fdAccessor();

    private final int client;
    private final int daemon;
    private final AtomicInteger running = new AtomicInteger(2);
    private boolean descriptorsClosed; // guarded by this
    private volatile boolean shut;

    private SpliceRelay(int client, int daemon) {
        this.client = client;
        this.daemon = daemon;
    }

    /**
     * A relay between the two connected sockets, or empty where splicing is not available here (see
     * the class comment) or a channel is not a socket with a descriptor of its own. Puts {@code
     * daemon} in non-blocking mode; {@code client} is (Jetty's channels are).
     */
    static Optional<SpliceRelay> of(SelectableChannel client, SelectableChannel daemon) throws IOException {
        if (NATIVE == null || FD_VAL == null || client.isBlocking()) {
            return Optional.empty();
        }
        int clientFd = descriptor(client);
        int daemonFd = descriptor(daemon);
        if (clientFd < 0 || daemonFd < 0) {
            return Optional.empty();
        }
        daemon.configureBlocking(false);
        int clientDup = NATIVE.duplicate(clientFd);
        int daemonDup;
        try {
            daemonDup = NATIVE.duplicate(daemonFd);
        } catch (IOException e) {
            NATIVE.closeQuietly(clientDup);
            throw e;
        }
        return Optional.of(new SpliceRelay(clientDup, daemonDup));
    }

    /** Whether this JVM can splice: false without native access or the export of {@code sun.nio.ch}. */
    static boolean available() {
        return NATIVE != null && FD_VAL != null;
    }

    /**
     * Starts both pumps. {@code early} (bytes of the client already read by HTTP, or null) goes to
     * the daemon first. {@code activity} runs after every move (keeps an idle timeout away); {@code
     * ended} runs once, after both pumps have ended and the duplicates are closed.
     */
    void start(ByteBuffer early, LongAdder in, LongAdder out, Runnable activity, Runnable ended) {
        Thread.ofPlatform()
                .daemon()
                .name("nbd-splice-in")
                .start(() -> pumpThenEnd(early, client, daemon, in, activity, ended));
        Thread.ofPlatform()
                .daemon()
                .name("nbd-splice-out")
                .start(() -> pumpThenEnd(null, daemon, client, out, activity, ended));
    }

    /** Ends both pumps soon: both sockets shut down, which wakes a pump in poll or splice. */
    synchronized void shut() {
        shut = true;
        if (!descriptorsClosed) {
            NATIVE.shutdownQuietly(client);
            NATIVE.shutdownQuietly(daemon);
        }
    }

    private void pumpThenEnd(ByteBuffer early, int from, int to, LongAdder counter, Runnable activity, Runnable ended) {
        try {
            pump(early, from, to, counter, activity);
        } catch (IOException | RuntimeException e) {
            // the pipe broke (a peer reset, a shutdown): both sides end below, the client sees its connection end
        } finally {
            shut();
            if (running.decrementAndGet() == 0) {
                synchronized (this) {
                    descriptorsClosed = true;
                    NATIVE.closeQuietly(client);
                    NATIVE.closeQuietly(daemon);
                }
                ended.run();
            }
        }
    }

    private void pump(ByteBuffer early, int from, int to, LongAdder counter, Runnable activity) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(NATIVE.captureLayout);
            MemorySegment poll = arena.allocate(8, 4);
            if (early != null && early.hasRemaining()) {
                MemorySegment bytes = arena.allocate(early.remaining());
                bytes.asByteBuffer().put(early);
                long done = 0;
                while (done < bytes.byteSize() && !shut) {
                    long n = NATIVE.write(state, to, bytes.asSlice(done));
                    if (n >= 0) {
                        done += n;
                    } else {
                        await(state, poll, to, POLLOUT, "write");
                    }
                }
            }
            int[] pipe = NATIVE.pipe(arena, state);
            try {
                NATIVE.setPipeSize(state, pipe[1], PIPE_BYTES); // a smaller pipe where refused still works
                while (!shut) {
                    long n = NATIVE.splice(state, from, pipe[1], PIPE_BYTES);
                    if (n == 0) {
                        return; // the sender is done
                    }
                    if (n < 0) {
                        await(state, poll, from, POLLIN, "splice from the socket");
                        continue;
                    }
                    counter.add(n);
                    while (n > 0 && !shut) {
                        long m = NATIVE.splice(state, pipe[0], to, n);
                        if (m > 0) {
                            n -= m;
                        } else if (m == 0) {
                            return;
                        } else {
                            await(state, poll, to, POLLOUT, "splice to the socket");
                        }
                    }
                    activity.run();
                }
            } finally {
                NATIVE.closeQuietly(pipe[0]);
                NATIVE.closeQuietly(pipe[1]);
            }
        }
    }

    /** After a call failed: returns when {@code fd} is ready for {@code events} (or a tick passed); throws unless EAGAIN/EINTR. */
    private static void await(MemorySegment state, MemorySegment poll, int fd, short events, String call)
            throws IOException {
        int error = NATIVE.errno(state);
        if (error == EINTR) {
            return;
        }
        if (error != EAGAIN) {
            throw new IOException(call + " failed: errno " + error);
        }
        poll.set(JAVA_INT, 0, fd);
        poll.set(JAVA_SHORT, 4, events);
        poll.set(JAVA_SHORT, 6, (short) 0);
        NATIVE.poll(state, poll, POLL_MILLIS); // readiness, a hang-up or a tick: the caller tries again
    }

    /** The descriptor behind a JDK channel ({@code sun.nio.ch.SelChImpl.getFDVal}), or -1. */
    private static int descriptor(SelectableChannel channel) {
        if (!FD_VAL.getDeclaringClass().isInstance(channel)) {
            return -1;
        }
        try {
            return (int) FD_VAL.invoke(channel);
        } catch (IllegalAccessException | InvocationTargetException | ClassCastException e) {
            return -1;
        }
    }

    private static Method fdAccessor() {
        try {
            Class<?> type = Class.forName("sun.nio.ch.SelChImpl");
            if (!SpliceRelay.class.getModule().canRead(type.getModule())
                    || !type.getModule().isExported(type.getPackageName(), SpliceRelay.class.getModule())) {
                return null;
            }
            return type.getMethod("getFDVal");
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** The bound libc functions; {@code null} where unavailable. */
    private static final class Native {
        final StructLayout captureLayout = Linker.Option.captureStateLayout();
        final VarHandle errnoHandle = captureLayout.varHandle(PathElement.groupElement("errno"));
        final MethodHandle splice;
        final MethodHandle pipe2;
        final MethodHandle fcntl;
        final MethodHandle poll;
        final MethodHandle write;
        final MethodHandle shutdown;
        final MethodHandle close;

        @SuppressWarnings("restricted") // the whole point of this class; the jar enables native access
        private Native(Linker linker, SymbolLookup libc) {
            Linker.Option errno = Linker.Option.captureCallState("errno");
            splice = linker.downcallHandle(
                    libc.find("splice").orElseThrow(),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT),
                    errno);
            pipe2 = linker.downcallHandle(
                    libc.find("pipe2").orElseThrow(), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), errno);
            fcntl = linker.downcallHandle(
                    libc.find("fcntl").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
                    errno,
                    Linker.Option.firstVariadicArg(2));
            poll = linker.downcallHandle(
                    libc.find("poll").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT),
                    errno);
            write = linker.downcallHandle(
                    libc.find("write").orElseThrow(),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG),
                    errno);
            shutdown = linker.downcallHandle(
                    libc.find("shutdown").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
            close = linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        }

        static Native load() {
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            String arch = System.getProperty("os.arch", "");
            if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("aarch64"))) {
                return null;
            }
            try {
                Linker linker = Linker.nativeLinker();
                return new Native(linker, linker.defaultLookup());
            } catch (RuntimeException | LinkageError e) {
                return null; // no native access (IllegalCallerException), no such function
            }
        }

        int errno(MemorySegment state) {
            return (int) errnoHandle.get(state, 0L);
        }

        long splice(MemorySegment state, int from, int to, long length) throws IOException {
            try {
                return (long) splice.invokeExact(
                        state,
                        from,
                        MemorySegment.NULL,
                        to,
                        MemorySegment.NULL,
                        length,
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            } catch (Throwable e) {
                throw new IOException("splice failed: " + e, e);
            }
        }

        int[] pipe(Arena arena, MemorySegment state) throws IOException {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            int result;
            try {
                result = (int) pipe2.invokeExact(state, fds, O_CLOEXEC | O_NONBLOCK);
            } catch (Throwable e) {
                throw new IOException("pipe2 failed: " + e, e);
            }
            if (result != 0) {
                throw new IOException("pipe2 failed: errno " + errno(state));
            }
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        }

        void setPipeSize(MemorySegment state, int fd, int bytes) throws IOException {
            try {
                int ignored = (int) fcntl.invokeExact(state, fd, F_SETPIPE_SZ, bytes);
            } catch (Throwable e) {
                throw new IOException("fcntl(F_SETPIPE_SZ) failed: " + e, e);
            }
        }

        int duplicate(int fd) throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(captureLayout);
                int copy;
                try {
                    copy = (int) fcntl.invokeExact(state, fd, F_DUPFD_CLOEXEC, 0);
                } catch (Throwable e) {
                    throw new IOException("fcntl(F_DUPFD_CLOEXEC) failed: " + e, e);
                }
                if (copy < 0) {
                    throw new IOException("fcntl(F_DUPFD_CLOEXEC) failed: errno " + errno(state));
                }
                return copy;
            }
        }

        void poll(MemorySegment state, MemorySegment pollfd, int millis) throws IOException {
            try {
                int ignored = (int) poll.invokeExact(state, pollfd, 1L, millis);
            } catch (Throwable e) {
                throw new IOException("poll failed: " + e, e);
            }
        }

        long write(MemorySegment state, int fd, MemorySegment bytes) throws IOException {
            try {
                return (long) write.invokeExact(state, fd, bytes, bytes.byteSize());
            } catch (Throwable e) {
                throw new IOException("write failed: " + e, e);
            }
        }

        void shutdownQuietly(int fd) {
            try {
                int ignored = (int) shutdown.invokeExact(fd, SHUT_RDWR);
            } catch (Throwable e) {
                // the socket is going away either way
            }
        }

        void closeQuietly(int fd) {
            try {
                int ignored = (int) close.invokeExact(fd);
            } catch (Throwable e) {
                // nothing is left to do with it
            }
        }
    }
}
