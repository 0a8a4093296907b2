package org.thinsr.qmpclient;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Runs an external command from an argument list (never a shell) with a timeout, streaming its
 * standard output to a handler and keeping the first {@value #MAX_STDERR} bytes of standard error
 * for the error message.
 */
final class CommandRunner {
    static final int MAX_STDERR = 64 * 1024;

    /** Consumes a command's standard output; runs on the calling thread. */
    interface OutputHandler<T> {
        T handle(InputStream stdout) throws IOException;
    }

    private CommandRunner() {}

    /**
     * Runs {@code command}, hands its output to {@code handler} and waits for it to exit.
     *
     * @throws ThinsrException {@code TOOL_MISSING} when the program cannot be started, {@code
     *     TOOL_FAILED} on a non-zero exit status (with its stderr), {@code TIMED_OUT} after {@code
     *     timeout}
     */
    static <T> T run(List<String> command, Duration timeout, OutputHandler<T> handler) throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new ThinsrException(
                    ErrorCode.TOOL_MISSING,
                    "cannot run " + command.getFirst() + ": " + e.getMessage(),
                    e,
                    command.getFirst());
        }
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        Thread stderrReader = Thread.ofPlatform().daemon().start(() -> drain(process.getErrorStream(), stderr));
        Thread watchdog = Thread.ofPlatform().daemon().start(() -> {
            try {
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
            }
        });
        T result;
        try (InputStream stdout = process.getInputStream()) {
            result = handler.handle(stdout);
            stdout.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            throw e;
        } finally {
            try {
                boolean exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
                if (!exited) {
                    process.destroyForcibly();
                }
                stderrReader.join(Duration.ofSeconds(5));
                watchdog.interrupt();
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        int status = process.exitValue();
        if (status != 0) {
            String errors = stderr.toString(StandardCharsets.UTF_8).strip();
            boolean killed = status == 137 || status == 143;
            throw new ThinsrException(
                    killed ? ErrorCode.TIMED_OUT : ErrorCode.TOOL_FAILED,
                    String.join(" ", command)
                            + (killed ? " timed out after " + timeout : " exited with status " + status)
                            + (errors.isEmpty() ? "" : ": " + errors),
                    command.getFirst());
        }
        return result;
    }

    private static void drain(InputStream in, ByteArrayOutputStream sink) {
        byte[] buffer = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                synchronized (sink) {
                    int room = MAX_STDERR - sink.size();
                    if (room > 0) {
                        sink.write(buffer, 0, Math.min(room, n));
                    }
                }
            }
        } catch (IOException ignored) {
            // the process is gone; what was read is what we report
        }
    }
}
