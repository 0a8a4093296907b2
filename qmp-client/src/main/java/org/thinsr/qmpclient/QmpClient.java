package org.thinsr.qmpclient;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.thinsr.allocmap.CorruptInputException;

/**
 * A QMP client (qemu's {@code docs/interop/qmp-spec}): JSON objects separated by newlines over a
 * byte channel, usually a unix socket.
 *
 * <pre>
 * S: {"QMP": {"version": {...}, "capabilities": [...]}}       greeting
 * C: {"execute": "qmp_capabilities", "id": "thinsr-1"}
 * S: {"return": {}, "id": "thinsr-1"}
 * C: {"execute": CMD, "arguments": {...}, "id": ID}            any number in flight
 * S: {"return": VALUE, "id": ID} | {"error": {"class": C, "desc": D}, "id": ID}
 * S: {"event": NAME, "data": {...}, "timestamp": {"seconds": s, "microseconds": us}}   at any time
 * </pre>
 *
 * <p>Commands carry unique ids, so several may be in flight; one reader thread matches replies to
 * them and queues events to one event thread that calls the listeners. A message longer than
 * {@link Options#maxMessageBytes()} or one that is not a JSON object closes the connection. An error
 * reply becomes a {@link QmpException}; a command without a reply within its timeout a {@link
 * QmpTimeoutException} (a late reply is dropped); the peer closing the connection fails every
 * command in flight and all later ones with an {@link IOException} that says so, never a hang.
 *
 * <p>Thread-safe. The client owns its channel; {@link #close()} closes it.
 */
public final class QmpClient implements Closeable {
    /**
     * Tuning of one client.
     *
     * @param commandTimeout how long {@link #execute(String, JsonNode)} waits for a reply
     * @param maxMessageBytes the longest message accepted from qemu, newline excluded
     */
    public record Options(Duration commandTimeout, int maxMessageBytes) {
        public static final Options DEFAULT = new Options(Duration.ofSeconds(60), 16 * 1024 * 1024);

        public Options {
            Objects.requireNonNull(commandTimeout, "commandTimeout");
            if (commandTimeout.isNegative() || commandTimeout.isZero()) {
                throw new IllegalArgumentException("commandTimeout is not positive: " + commandTimeout);
            }
            if (maxMessageBytes < 1024) {
                throw new IllegalArgumentException("maxMessageBytes is below 1024: " + maxMessageBytes);
            }
        }
    }

    static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .disable(com.fasterxml.jackson.core.StreamReadFeature.AUTO_CLOSE_SOURCE)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(64)
                    .maxStringLength(1024 * 1024)
                    .maxNumberLength(64)
                    .build())
            .build());

    private static final int EVENT_QUEUE = 4096;

    private final ByteChannel channel;
    private final Options options;
    private final Object writeLock = new Object();
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final List<QmpEventListener> listeners = new CopyOnWriteArrayList<>();
    private final BlockingQueue<QmpEvent> events = new ArrayBlockingQueue<>(EVENT_QUEUE);
    private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
    private final AtomicLong droppedEvents = new AtomicLong();
    private final Thread reader;
    private final Thread dispatcher;
    private volatile IOException failure;

    private record Pending(String id, String command, CompletableFuture<JsonNode> future) {}

    private QmpClient(ByteChannel channel, Options options) {
        this.channel = channel;
        this.options = options;
        this.reader = Thread.ofPlatform().daemon().name("qmp-reader").start(this::readLoop);
        this.dispatcher = Thread.ofPlatform().daemon().name("qmp-events").start(this::dispatchLoop);
    }

    /** Connects to the QMP unix socket {@code socket} and negotiates capabilities. */
    public static QmpClient connect(Path socket, Options options) throws IOException {
        return open(SocketChannels.connectUnix(socket), options);
    }

    /**
     * Reads the greeting from {@code channel}, sends {@code qmp_capabilities} and returns the client
     * in command mode. Closes the channel on failure.
     */
    public static QmpClient open(ByteChannel channel, Options options) throws IOException {
        QmpClient client = new QmpClient(channel, options);
        try {
            client.await("the QMP greeting", client.greeting, options.commandTimeout());
            client.execute("qmp_capabilities", null);
            return client;
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /** The greeting's {@code QMP} object ({@code version}, {@code capabilities}). */
    public JsonNode greeting() {
        return greeting.getNow(null);
    }

    public Options options() {
        return options;
    }

    public void addEventListener(QmpEventListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    public void removeEventListener(QmpEventListener listener) {
        listeners.remove(listener);
    }

    /** Events dropped because the event queue was full (listeners too slow). */
    public long droppedEvents() {
        return droppedEvents.get();
    }

    /**
     * Sends {@code command} with {@code arguments} (an object, or {@code null} for none); the future
     * completes with the {@code return} value, or exceptionally with a {@link QmpException} or the
     * connection failure. Never times out by itself.
     */
    public CompletableFuture<JsonNode> executeAsync(String command, JsonNode arguments) {
        return send(command, arguments).future();
    }

    private Pending send(String command, JsonNode arguments) {
        Objects.requireNonNull(command, "command");
        if (arguments != null && !arguments.isObject()) {
            throw new IllegalArgumentException("QMP arguments must be a JSON object: " + arguments);
        }
        CompletableFuture<JsonNode> future = new CompletableFuture<>();
        String id = "thinsr-" + nextId.getAndIncrement();
        Pending request = new Pending(id, command, future);
        IOException failed = failure;
        if (failed != null) {
            future.completeExceptionally(dead(command, failed));
            return request;
        }
        ObjectNode message = JSON.createObjectNode().put("execute", command);
        if (arguments != null) {
            message.set("arguments", arguments);
        }
        message.put("id", id);
        pending.put(id, request);
        if (failure != null) {
            failAll(failure);
        }
        try {
            byte[] bytes = JSON.writeValueAsBytes(message);
            ByteBuffer buffer = ByteBuffer.allocate(bytes.length + 1)
                    .put(bytes)
                    .put((byte) '\n')
                    .flip();
            synchronized (writeLock) {
                Wire.writeFully(channel, buffer);
            }
        } catch (IOException e) {
            fail(new IOException("cannot send QMP command " + command + ": " + e.getMessage(), e));
        }
        return request;
    }

    /** {@link #execute(String, JsonNode, Duration)} with the default command timeout. */
    public JsonNode execute(String command, JsonNode arguments) throws IOException {
        return execute(command, arguments, options.commandTimeout());
    }

    /**
     * Runs {@code command} and waits at most {@code timeout} for its reply.
     *
     * @return the {@code return} value ({@code {}} for most commands)
     * @throws QmpException on an error reply
     * @throws QmpTimeoutException when no reply came in time (the command may still run in qemu)
     * @throws IOException when the connection died
     */
    public JsonNode execute(String command, JsonNode arguments, Duration timeout) throws IOException {
        Pending request = send(command, arguments);
        try {
            return await("QMP command " + command, request.future(), timeout);
        } catch (QmpTimeoutException e) {
            pending.remove(request.id());
            throw e;
        }
    }

    private <T> T await(String what, CompletableFuture<T> future, Duration timeout) throws IOException {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof QmpException qmp) {
                throw new QmpException(qmp.command(), qmp.errorClass(), qmp.description());
            }
            if (cause instanceof IOException io) {
                throw new IOException(io.getMessage(), io);
            }
            throw new IOException(what + " failed: " + cause, cause);
        } catch (TimeoutException e) {
            throw new QmpTimeoutException(what + ": no reply within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + what);
        } catch (CancellationException e) {
            throw new IOException(what + " was cancelled", e);
        }
    }

    /**
     * Waits for the first event that matches {@code filter} and arrives after this call starts.
     *
     * @throws QmpTimeoutException when none arrives within {@code timeout}
     * @throws IOException when the connection dies first
     */
    public QmpEvent awaitEvent(Predicate<QmpEvent> filter, Duration timeout) throws IOException {
        return await("a QMP event", eventFuture(filter), timeout);
    }

    /**
     * A future for the first event matching {@code filter} from now on; register it before the
     * command that causes the event, then {@link #awaitEvent(CompletableFuture, Duration)}.
     */
    public CompletableFuture<QmpEvent> eventFuture(Predicate<QmpEvent> filter) {
        EventWaiter waiter = new EventWaiter(filter);
        listeners.add(waiter);
        IOException failed = failure;
        if (failed != null) {
            waiter.future.completeExceptionally(dead("waiting for an event", failed));
        }
        CompletableFuture<QmpEvent> _ = waiter.future.whenComplete((_, _) -> listeners.remove(waiter));
        return waiter.future;
    }

    /** A listener that completes a future with the first matching event. */
    private static final class EventWaiter implements QmpEventListener {
        final Predicate<QmpEvent> filter;
        final CompletableFuture<QmpEvent> future = new CompletableFuture<>();

        EventWaiter(Predicate<QmpEvent> filter) {
            this.filter = filter;
        }

        @Override
        public void onEvent(QmpEvent event) {
            if (filter.test(event)) {
                future.complete(event);
            }
        }
    }

    /** Waits for an event future from {@link #eventFuture(Predicate)}. */
    public QmpEvent awaitEvent(CompletableFuture<QmpEvent> future, Duration timeout) throws IOException {
        try {
            return await("a QMP event", future, timeout);
        } finally {
            future.cancel(false);
        }
    }

    // ---------------------------------------------------------------- reading

    private void readLoop() {
        ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
        byte[] line = new byte[4096];
        int lineLength = 0;
        try {
            while (true) {
                buffer.clear();
                int n = channel.read(buffer);
                if (n < 0) {
                    throw new EOFException("QMP peer closed the connection"
                            + (pending.isEmpty() ? "" : " with " + pending.size() + " command(s) in flight"));
                }
                buffer.flip();
                while (buffer.hasRemaining()) {
                    byte b = buffer.get();
                    if (b == '\n') {
                        handleLine(line, lineLength);
                        lineLength = 0;
                        continue;
                    }
                    if (lineLength == options.maxMessageBytes()) {
                        throw CorruptInputException.of(
                                "QMP message",
                                "length",
                                "more than " + options.maxMessageBytes() + " bytes",
                                "at most " + options.maxMessageBytes());
                    }
                    if (lineLength == line.length) {
                        line = java.util.Arrays.copyOf(
                                line, (int) Math.min(options.maxMessageBytes(), 2L * line.length));
                    }
                    line[lineLength++] = b;
                }
            }
        } catch (EOFException | CorruptInputException e) {
            fail(e);
        } catch (IOException e) {
            fail(new IOException("QMP peer closed the connection (" + e.getMessage() + ")", e));
        } catch (RuntimeException e) {
            fail(new IOException("QMP reader failed: " + e, e));
        }
    }

    private void handleLine(byte[] line, int length) throws IOException {
        int start = 0;
        while (start < length && Character.isWhitespace(line[start])) {
            start++;
        }
        if (start == length) {
            return;
        }
        JsonNode message;
        try {
            message = JSON.readTree(line, start, length - start);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new CorruptInputException("QMP message is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (message == null || !message.isObject()) {
            throw CorruptInputException.of(
                    "QMP message", "JSON type", message == null ? "nothing" : message.getNodeType(), "an object");
        }
        if (message.has("QMP")) {
            greeting.complete(message.get("QMP"));
        } else if (message.has("event")) {
            JsonNode timestamp = message.path("timestamp");
            long micros = timestamp.has("seconds")
                    ? timestamp.path("seconds").asLong() * 1_000_000
                            + timestamp.path("microseconds").asLong()
                    : -1;
            QmpEvent event = new QmpEvent(message.path("event").asText(), message.get("data"), micros);
            if (!events.offer(event)) {
                droppedEvents.incrementAndGet();
            }
        } else if (message.has("return") || message.has("error")) {
            JsonNode id = message.get("id");
            Pending request = id == null ? null : pending.remove(id.asText());
            if (request == null) {
                return; // a late reply to a command that timed out, or an id-less parse error reply
            }
            if (message.has("return")) {
                request.future.complete(message.get("return"));
            } else {
                JsonNode error = message.get("error");
                request.future.completeExceptionally(new QmpException(
                        request.command,
                        error.path("class").asText("?"),
                        error.path("desc").asText("")));
            }
        } else {
            throw CorruptInputException.of(
                    "QMP message",
                    "kind",
                    message.fieldNames().hasNext() ? message.fieldNames().next() : "{}",
                    "QMP, event, return or error");
        }
    }

    private void dispatchLoop() {
        while (true) {
            QmpEvent event;
            try {
                event = events.take();
            } catch (InterruptedException e) {
                return;
            }
            for (QmpEventListener listener : listeners) {
                try {
                    listener.onEvent(event);
                } catch (RuntimeException e) {
                    // a failing listener must not stop the others or the client
                }
            }
        }
    }

    private static IOException dead(String what, IOException cause) {
        return new IOException("QMP connection is dead (" + cause.getMessage() + "); " + what + " was not run", cause);
    }

    private void fail(IOException cause) {
        synchronized (pending) {
            if (failure == null) {
                failure = cause;
            }
        }
        greeting.completeExceptionally(failure);
        failAll(failure);
        for (QmpEventListener listener : listeners) {
            if (listener instanceof EventWaiter waiter) {
                waiter.future.completeExceptionally(failure);
            }
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // already failing
        }
    }

    private void failAll(IOException cause) {
        for (String id : List.copyOf(pending.keySet())) {
            Pending request = pending.remove(id);
            if (request != null) {
                request.future.completeExceptionally(
                        new IOException("QMP command " + request.command + " failed: " + cause.getMessage(), cause));
            }
        }
    }

    /** Whether the connection is still up. */
    public boolean isAlive() {
        return failure == null;
    }

    @Override
    public void close() {
        fail(new IOException("QMP connection closed by the client"));
        dispatcher.interrupt();
        try {
            reader.join(Duration.ofSeconds(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
