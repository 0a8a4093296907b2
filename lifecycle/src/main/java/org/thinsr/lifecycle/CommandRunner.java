package org.thinsr.lifecycle;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Runs external commands: an argument list (never a shell), a timeout, stdout and stderr captured.
 * The one seam between lifecycle code and outside tools.
 */
public interface CommandRunner {
    /** Output of a finished command. */
    record Result(int exitStatus, String stdout, String stderr) {}

    /**
     * Runs {@code argv} with extra environment {@code environment} and waits at most {@code
     * timeout}; kills it on timeout.
     *
     * @throws ThinsrException {@code TOOL_MISSING} when {@code argv[0]} cannot be started, {@code
     *     TIMED_OUT} on timeout
     */
    Result run(List<String> argv, Map<String, String> environment, Duration timeout);

    /** As {@link #run} and then {@code TOOL_FAILED} (command, status, stderr) unless the exit status is 0. */
    default String check(List<String> argv, Duration timeout) {
        Result result = run(argv, Map.of(), timeout);
        if (result.exitStatus() != 0) {
            throw failed(argv, result);
        }
        return result.stdout();
    }

    static ThinsrException failed(List<String> argv, Result result) {
        String stderr = result.stderr().strip();
        if (stderr.length() > 2000) {
            stderr = stderr.substring(0, 2000) + "…";
        }
        return new ThinsrException(
                ErrorCode.TOOL_FAILED,
                String.join(" ", argv) + " exited with status " + result.exitStatus()
                        + (stderr.isEmpty() ? "" : ": " + stderr),
                argv.getFirst(),
                Integer.toString(result.exitStatus()),
                stderr);
    }

    /** Runs commands as child processes. Output beyond 16 MiB per stream is an error. */
    CommandRunner PROCESSES = new CommandRunner() {
        private static final int MAX_OUTPUT = 16 << 20;

        @Override
        public Result run(List<String> argv, Map<String, String> environment, Duration timeout) {
            ProcessBuilder builder = new ProcessBuilder(argv);
            builder.environment().putAll(environment);
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Process process;
            try {
                process = builder.start();
            } catch (IOException e) {
                throw new ThinsrException(
                        ErrorCode.TOOL_MISSING,
                        "cannot run " + argv.getFirst() + ": " + e.getMessage(),
                        e,
                        argv.getFirst());
            }
            Thread.Builder threads = Thread.ofVirtual();
            ByteArrayOutputStream stdout = new ByteArrayOutputStream();
            ByteArrayOutputStream stderr = new ByteArrayOutputStream();
            Thread outReader = threads.start(() -> drain(process.getInputStream(), stdout));
            Thread errReader = threads.start(() -> drain(process.getErrorStream(), stderr));
            try {
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                    throw new ThinsrException(
                            ErrorCode.TIMED_OUT,
                            String.join(" ", argv) + " did not finish within " + timeout.toSeconds() + " s",
                            argv.getFirst());
                }
                outReader.join(Duration.ofSeconds(5));
                errReader.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while running " + argv.getFirst(), e);
            }
            synchronized (stdout) {
                synchronized (stderr) {
                    return new Result(
                            process.exitValue(),
                            stdout.toString(StandardCharsets.UTF_8),
                            stderr.toString(StandardCharsets.UTF_8));
                }
            }
        }

        private void drain(InputStream in, ByteArrayOutputStream out) {
            byte[] buffer = new byte[8192];
            try (in) {
                int read;
                while ((read = in.read(buffer)) >= 0) {
                    synchronized (out) {
                        if (out.size() + read <= MAX_OUTPUT) {
                            out.write(buffer, 0, read);
                        }
                    }
                }
            } catch (IOException ignored) {
                // the process went away; what was read is kept
            }
        }
    };
}
