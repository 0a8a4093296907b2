package org.thinsr.qmpclient;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Closeable;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * A {@code qemu-storage-daemon} child process with a QMP monitor on a unix socket, optionally block
 * nodes ({@code --blockdev}), an NBD server on a unix socket ({@code --nbd-server}) and exports
 * ({@code --export}).
 *
 * <p>{@link Builder#start()} returns once QMP answers (capabilities negotiated), or fails with the daemon's
 * stderr. {@link #close()} stops it: {@code quit} over QMP, then SIGTERM, then SIGKILL, each after a
 * bound. A shutdown hook kills the daemon (and anything it started) if the JVM exits first, so no
 * process is left behind. Thread-safe.
 */
public final class QemuStorageDaemon implements Closeable {
    private static final Duration STOP_STEP = Duration.ofSeconds(5);
    private static final int LOG_TAIL = 8192;

    private final Process process;
    private final Path runtimeDirectory;
    private final Path qmpSocket;
    private final Path nbdSocket;
    private final Path log;
    private final QmpClient qmp;
    private final QmpCommands commands;
    private final Thread shutdownHook;
    private boolean closed;

    private QemuStorageDaemon(
            Process process,
            Path runtimeDirectory,
            Path qmpSocket,
            Path nbdSocket,
            Path log,
            QmpClient qmp,
            Thread hook) {
        this.process = process;
        this.runtimeDirectory = runtimeDirectory;
        this.qmpSocket = qmpSocket;
        this.nbdSocket = nbdSocket;
        this.log = log;
        this.qmp = qmp;
        this.commands = new QmpCommands(qmp);
        this.shutdownHook = hook;
    }

    /** A builder for a daemon whose sockets and log live in {@code runtimeDirectory} (created if needed). */
    public static Builder builder(Path runtimeDirectory) {
        return new Builder(runtimeDirectory);
    }

    public QmpClient qmp() {
        return qmp;
    }

    public QmpCommands commands() {
        return commands;
    }

    public Path qmpSocket() {
        return qmpSocket;
    }

    /** The NBD server's unix socket, or {@code null} when none was asked for. */
    public Path nbdSocket() {
        return nbdSocket;
    }

    /** The NBD URI of {@code exportName} on this daemon's NBD server. */
    public NbdUri nbdUri(String exportName) {
        if (nbdSocket == null) {
            throw new IllegalStateException("this daemon was started without an NBD server");
        }
        return NbdUri.unix(nbdSocket, exportName);
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The last lines the daemon wrote to stdout and stderr. */
    public String logTail() {
        return tail(log);
    }

    /**
     * Stops the daemon: {@code quit}, then SIGTERM, then SIGKILL, waiting at most 5 s after each.
     * Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (process.isAlive() && qmp.isAlive()) {
                try {
                    qmp.execute("quit", null, STOP_STEP);
                } catch (IOException e) {
                    // the daemon may be gone or stuck; the signals below handle both
                }
            }
            qmp.close();
            if (!waitFor(process, STOP_STEP)) {
                process.destroy();
                if (!waitFor(process, STOP_STEP)) {
                    process.descendants().forEach(ProcessHandle::destroyForcibly);
                    process.destroyForcibly();
                    waitFor(process, STOP_STEP);
                }
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down; the hook runs anyway
            }
        }
    }

    private static boolean waitFor(Process process, Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String tail(Path file) {
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
            long length = in.length();
            long start = Math.max(0, length - LOG_TAIL);
            byte[] bytes = new byte[(int) (length - start)];
            in.seek(start);
            in.readFully(bytes);
            return new String(bytes, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Escapes a value for qemu's comma-separated option syntax ({@code ,} becomes {@code ,,}). */
    static String optionValue(String value) {
        return value.replace(",", ",,");
    }

    /** Collects the daemon's command line. Not thread-safe. */
    public static final class Builder {
        private final Path runtimeDirectory;
        private final List<String> blockdevs = new ArrayList<>();
        private final List<String> exports = new ArrayList<>();
        private boolean nbdServer;
        private int nbdMaxConnections;
        private String executable = "qemu-storage-daemon";
        private Duration startTimeout = Duration.ofSeconds(30);
        private QmpClient.Options qmpOptions = QmpClient.Options.DEFAULT;

        private Builder(Path runtimeDirectory) {
            this.runtimeDirectory = Objects.requireNonNull(runtimeDirectory, "runtimeDirectory");
        }

        /** Adds {@code --blockdev JSON} ({@code BlockdevOptions}, e.g. driver, node-name, file). */
        public Builder blockdev(ObjectNode options) {
            blockdevs.add(options.toString());
            return this;
        }

        /** Adds a {@code file} node and a format node on top of it, both named after {@code nodeName}. */
        public Builder image(String nodeName, Path image, String format, boolean readOnly) {
            ObjectNode file = QmpCommands.object()
                    .put("driver", "file")
                    .put("node-name", nodeName + "-file")
                    .put("filename", image.toAbsolutePath().toString())
                    .put("read-only", readOnly);
            ObjectNode top = QmpCommands.object()
                    .put("driver", format)
                    .put("node-name", nodeName)
                    .put("file", nodeName + "-file")
                    .put("read-only", readOnly);
            return blockdev(file).blockdev(top);
        }

        /** Starts an NBD server on {@code nbd.sock} in the runtime directory (0 = qemu's default limit). */
        public Builder nbdServer(int maxConnections) {
            this.nbdServer = true;
            this.nbdMaxConnections = maxConnections;
            return this;
        }

        /** Adds {@code --export JSON} ({@code BlockExportOptions}, e.g. type nbd, id, node-name, name). */
        public Builder export(ObjectNode options) {
            exports.add(options.toString());
            return this;
        }

        public Builder executable(String executable) {
            this.executable = executable;
            return this;
        }

        public Builder startTimeout(Duration timeout) {
            this.startTimeout = timeout;
            return this;
        }

        public Builder qmpOptions(QmpClient.Options options) {
            this.qmpOptions = options;
            return this;
        }

        /**
         * Starts the daemon and connects to its QMP socket.
         *
         * @throws ThinsrException {@code TOOL_MISSING} when it cannot be run, {@code TOOL_FAILED}
         *     with its output when it exits early, {@code TIMED_OUT} when QMP does not answer in time
         */
        public QemuStorageDaemon start() throws IOException {
            Files.createDirectories(runtimeDirectory);
            Path qmpSocket = runtimeDirectory.resolve("qmp.sock");
            Path nbdSocket = nbdServer ? runtimeDirectory.resolve("nbd.sock") : null;
            Path log = runtimeDirectory.resolve("qemu-storage-daemon.log");
            Files.deleteIfExists(qmpSocket);
            if (nbdSocket != null) {
                Files.deleteIfExists(nbdSocket);
            }
            List<String> command = new ArrayList<>(List.of(
                    executable,
                    "--chardev",
                    "socket,id=qmp0,path="
                            + optionValue(qmpSocket.toAbsolutePath().toString()) + ",server=on,wait=off",
                    "--monitor",
                    "chardev=qmp0"));
            for (String blockdev : blockdevs) {
                command.add("--blockdev");
                command.add(blockdev);
            }
            if (nbdSocket != null) {
                ObjectNode server = QmpCommands.object();
                server.putObject("addr")
                        .put("type", "unix")
                        .put("path", nbdSocket.toAbsolutePath().toString());
                if (nbdMaxConnections > 0) {
                    server.put("max-connections", nbdMaxConnections);
                }
                command.add("--nbd-server");
                command.add(server.toString());
            }
            for (String export : exports) {
                command.add("--export");
                command.add(export);
            }
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Process process;
            try {
                process = builder.start();
            } catch (IOException e) {
                throw new ThinsrException(
                        ErrorCode.TOOL_MISSING,
                        "cannot run " + executable + " (Debian package qemu-system-common): " + e.getMessage(),
                        e,
                        executable);
            }
            ProcessHandle handle = process.toHandle();
            Thread hook = new Thread(() -> {
                handle.descendants().forEach(ProcessHandle::destroyForcibly);
                handle.destroyForcibly();
            });
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                QmpClient qmp = awaitQmp(process, qmpSocket, log);
                return new QemuStorageDaemon(process, runtimeDirectory, qmpSocket, nbdSocket, log, qmp, hook);
            } catch (IOException | RuntimeException e) {
                process.destroyForcibly();
                waitFor(process, STOP_STEP);
                Runtime.getRuntime().removeShutdownHook(hook);
                throw e;
            }
        }

        private QmpClient awaitQmp(Process process, Path qmpSocket, Path log) throws IOException {
            long deadline = System.nanoTime() + startTimeout.toNanos();
            IOException last = null;
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new ThinsrException(
                            ErrorCode.TOOL_FAILED,
                            executable + " exited with status " + process.exitValue() + " before QMP answered: "
                                    + tail(log),
                            executable);
                }
                if (Files.exists(qmpSocket)) {
                    try {
                        return QmpClient.connect(qmpSocket, qmpOptions);
                    } catch (IOException e) {
                        last = e;
                    }
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while starting " + executable);
                }
            }
            throw new ThinsrException(
                    ErrorCode.TIMED_OUT,
                    executable + " did not answer on " + qmpSocket + " within " + startTimeout
                            + (last == null ? "" : " (" + last.getMessage() + ")") + ": " + tail(log),
                    executable);
        }
    }

    @Override
    public String toString() {
        return "qemu-storage-daemon[pid " + process.pid() + ", " + runtimeDirectory + "]";
    }
}
