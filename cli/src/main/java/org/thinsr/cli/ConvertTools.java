package org.thinsr.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Runs the external tools {@code thinsr convert} needs ({@code qemu-img}) from an argument list,
 * never a shell, with a timeout; keeps stdout up to a bound and the first 64 KiB of stderr for the
 * error message.
 */
final class ConvertTools {
    static final int MAX_STDERR = 64 * 1024;

    private ConvertTools() {}

    /**
     * Runs {@code command} and returns its standard output.
     *
     * @param maxOutput the most stdout bytes accepted; more is a {@code TOOL_FAILED} error
     * @throws ThinsrException TOOL_MISSING when it cannot start, TOOL_FAILED on a non-zero exit
     *     (with stderr), TIMED_OUT after {@code timeout}
     */
    static byte[] run(List<String> command, Duration timeout, long maxOutput) throws IOException {
        Process process;
        try {
            process = new ProcessBuilder(new ArrayList<>(command)).start();
        } catch (IOException e) {
            throw new ThinsrException(
                    ErrorCode.TOOL_MISSING,
                    command.getFirst() + " could not be started (" + e.getMessage()
                            + "); install it: apt-get install qemu-utils");
        }
        process.getOutputStream().close();
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        Thread drainer = Thread.ofVirtual().start(() -> drain(process.getErrorStream(), stderr, MAX_STDERR));
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        boolean tooLong = drain(process.getInputStream(), stdout, maxOutput);
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new ThinsrException(
                        ErrorCode.TIMED_OUT, String.join(" ", command) + " timed out after " + timeout);
            }
            drainer.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ThinsrException(ErrorCode.CANCELLED, String.join(" ", command) + " interrupted");
        }
        if (process.exitValue() != 0) {
            String error;
            synchronized (stderr) {
                error = stderr.toString(StandardCharsets.UTF_8).strip();
            }
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED,
                    String.join(" ", command) + " exited with status " + process.exitValue() + ": " + error);
        }
        if (tooLong) {
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED, String.join(" ", command) + " printed more than " + maxOutput + " bytes");
        }
        return stdout.toByteArray();
    }

    /** Copies up to {@code max} bytes into {@code sink} and discards the rest; true if there was more. */
    private static boolean drain(InputStream in, ByteArrayOutputStream sink, long max) {
        byte[] buffer = new byte[8192];
        boolean overflow = false;
        try (in) {
            int read;
            while ((read = in.read(buffer)) >= 0) {
                synchronized (sink) {
                    long room = max - sink.size();
                    if (room > 0) {
                        sink.write(buffer, 0, (int) Math.min(room, read));
                    }
                    overflow |= read > room;
                }
            }
        } catch (IOException e) {
            // the process died; its exit status tells the rest
        }
        return overflow;
    }
}
