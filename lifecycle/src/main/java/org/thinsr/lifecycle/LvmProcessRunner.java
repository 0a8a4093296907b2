package org.thinsr.lifecycle;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * {@link LvmCommandRunner} over {@link ProcessBuilder}: programs are looked up on {@code PATH} and
 * in {@code /usr/sbin} and {@code /sbin}; stdin is empty; stderr is kept (first 64 KiB) for the
 * error message; a watchdog kills the process when {@code timeout} passes.
 *
 * <p>{@code LVM_SUPPRESS_FD_WARNINGS=1} is set because the JVM leaves descriptors open that lvm
 * would otherwise warn about on stderr.
 */
final class LvmProcessRunner implements LvmCommandRunner {
    private static final int MAX_STDOUT_BYTES = 16 << 20;
    private static final int MAX_STDERR_BYTES = 64 << 10;
    private static final Map<String, String> PACKAGES = Map.ofEntries(
            Map.entry("dmsetup", "dmsetup"),
            Map.entry("thin_dump", "thin-provisioning-tools"),
            Map.entry("thin_delta", "thin-provisioning-tools"),
            Map.entry("thin_ls", "thin-provisioning-tools"),
            Map.entry("losetup", "mount"),
            Map.entry("blockdev", "util-linux"),
            Map.entry("qemu-nbd", "qemu-utils"),
            Map.entry("qemu-img", "qemu-utils"));

    private static final boolean TRACE = Boolean.getBoolean("thinsr.trace.commands");

    private final Duration timeout;

    LvmProcessRunner(Duration timeout) {
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout is not positive: " + timeout);
        }
    }

    @Override
    public String run(List<String> command) {
        return run(command, stdout -> {
            byte[] bytes = stdout.readNBytes(MAX_STDOUT_BYTES + 1);
            if (bytes.length > MAX_STDOUT_BYTES) {
                throw new IOException("more than " + MAX_STDOUT_BYTES + " bytes of output");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        });
    }

    @Override
    public <T> T run(List<String> command, StdoutParser<T> parser) {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("empty command");
        }
        List<String> argv = new ArrayList<>(command);
        argv.set(0, locate(command.getFirst()).toString());
        ProcessBuilder builder =
                new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().put("LVM_SUPPRESS_FD_WARNINGS", "1");
        builder.environment().put("LC_ALL", "C");
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, "cannot start " + command + ": " + e.getMessage(), e);
        }
        StderrCollector stderr = new StderrCollector(process.getErrorStream());
        Thread stderrThread =
                Thread.ofVirtual().name("stderr " + command.getFirst()).start(stderr);
        AtomicBoolean killed = new AtomicBoolean();
        Thread watchdog = Thread.ofVirtual()
                .name("watchdog " + command.getFirst())
                .start(() -> {
                    try {
                        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                            killed.set(true);
                            process.destroyForcibly();
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
        long started = System.nanoTime();
        T result = null;
        IOException parseFailure = null;
        try (InputStream stdout = process.getInputStream()) {
            result = parser.parse(stdout);
            drain(stdout);
        } catch (IOException | UncheckedIOException e) {
            parseFailure = e instanceof UncheckedIOException unchecked ? unchecked.getCause() : (IOException) e;
        }
        int status;
        try {
            process.waitFor();
            stderrThread.join();
            watchdog.interrupt();
            status = process.exitValue();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while running " + command, e);
        }
        if (TRACE) {
            System.err.printf(
                    "thinsr: %.2f s exit %d %s%n",
                    (System.nanoTime() - started) / 1e9, status, String.join(" ", command));
        }
        if (killed.get()) {
            throw new ThinsrException(
                    ErrorCode.TIMED_OUT, command + " did not finish within " + timeout.toSeconds() + " s");
        }
        if (status != 0) {
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED,
                    command + " failed with exit status " + status + ": "
                            + stderr.text().strip());
        }
        if (parseFailure != null) {
            throw new ThinsrException(
                    ErrorCode.TOOL_FAILED,
                    "output of " + command + " is unusable: " + parseFailure.getMessage(),
                    parseFailure);
        }
        return result;
    }

    @Override
    public void runDetaching(List<String> command) {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("empty command");
        }
        List<String> argv = new ArrayList<>(command);
        argv.set(0, locate(command.getFirst()).toString());
        Path stderrFile = null;
        try {
            stderrFile = Files.createTempFile("thinsr-stderr", ".txt");
            Process process = new ProcessBuilder(argv)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(stderrFile.toFile())
                    .start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new ThinsrException(
                        ErrorCode.TIMED_OUT, command + " did not finish within " + timeout.toSeconds() + " s");
            }
            if (process.exitValue() != 0) {
                byte[] stderr;
                try (InputStream in = Files.newInputStream(stderrFile)) {
                    stderr = in.readNBytes(MAX_STDERR_BYTES);
                }
                throw new ThinsrException(
                        ErrorCode.TOOL_FAILED,
                        command + " failed with exit status " + process.exitValue() + ": "
                                + new String(stderr, StandardCharsets.UTF_8).strip());
            }
        } catch (IOException e) {
            throw new ThinsrException(ErrorCode.TOOL_FAILED, "cannot run " + command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ThinsrException(ErrorCode.CANCELLED, "interrupted while running " + command, e);
        } finally {
            if (stderrFile != null) {
                try {
                    Files.deleteIfExists(stderrFile);
                } catch (IOException ignored) {
                    // a leftover temporary file is harmless
                }
            }
        }
    }

    /** Reads what the parser left, so that the process never blocks on a full pipe. */
    private static void drain(InputStream stdout) {
        try {
            stdout.transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
            // the parser closed the stream: the process gets SIGPIPE, which its exit status shows
        }
    }

    private static Path locate(String program) {
        if (program.indexOf('/') >= 0) {
            return Path.of(program);
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        List<String> directories = new ArrayList<>(List.of(path.split(":", -1)));
        directories.addAll(List.of("/usr/sbin", "/sbin"));
        for (String directory : directories) {
            if (directory.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(directory, program);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        String debianPackage = PACKAGES.getOrDefault(program, "lvm2");
        throw new ThinsrException(
                ErrorCode.TOOL_MISSING,
                "'" + program + "' is not installed: install the Debian package " + debianPackage,
                program,
                debianPackage);
    }

    /** Drains stderr, keeping the first {@value #MAX_STDERR_BYTES} bytes. */
    private static final class StderrCollector implements Runnable {
        private final InputStream in;
        private volatile String text = "";

        StderrCollector(InputStream in) {
            this.in = in;
        }

        @Override
        public void run() {
            try (in) {
                byte[] kept = in.readNBytes(MAX_STDERR_BYTES);
                in.transferTo(OutputStream.nullOutputStream());
                text = new String(kept, StandardCharsets.UTF_8);
            } catch (IOException e) {
                text = "(stderr unreadable: " + e.getMessage() + ")";
            }
        }

        String text() {
            return text;
        }
    }
}
