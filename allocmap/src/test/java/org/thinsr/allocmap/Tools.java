package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Real tools for integration tests: a missing one fails the test naming its Debian package. */
final class Tools {
    private Tools() {}

    /** Fails unless {@code tool} is on the PATH (or in /usr/sbin, /sbin). */
    static String require(String tool, String debianPackage) {
        List<String> dirs =
                new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
        dirs.add("/usr/sbin");
        dirs.add("/sbin");
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, tool);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return fail(tool + " is not installed: apt-get install " + debianPackage);
    }

    /** A finished command: exit status, stdout, stderr. */
    static final class Result {
        private final int exitStatus;
        private final byte[] stdout;
        private final String stderr;

        Result(int exitStatus, byte[] stdout, String stderr) {
            this.exitStatus = exitStatus;
            this.stdout = stdout;
            this.stderr = stderr;
        }

        int exitStatus() {
            return exitStatus;
        }

        byte[] stdout() {
            return stdout;
        }

        String stderr() {
            return stderr;
        }

        String stdoutText() {
            return new String(stdout, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /**
     * Runs {@code command} (no shell) with {@code stdin} (may be null), waits at most {@code
     * timeoutSeconds}, and returns its output; the stdout goes to {@code stdoutFile} instead when
     * that is not null.
     */
    static Result run(List<String> command, byte[] stdin, Path stdoutFile, long timeoutSeconds) {
        try {
            ProcessBuilder builder = new ProcessBuilder(command);
            Path stderrFile = Files.createTempFile("thinsr-it", ".stderr");
            builder.redirectError(stderrFile.toFile());
            if (stdoutFile != null) {
                builder.redirectOutput(stdoutFile.toFile());
            }
            if (stdin == null) {
                builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            }
            Process process = builder.start();
            Thread feeder = null;
            if (stdin != null) {
                feeder = Thread.ofVirtual().start(() -> {
                    try (var out = process.getOutputStream()) {
                        out.write(stdin);
                    } catch (IOException ignored) {
                        // the process may exit before reading everything: its status says why
                    }
                });
            }
            ByteArrayOutputStream stdout = new ByteArrayOutputStream();
            Thread reader = null;
            if (stdoutFile == null) {
                reader = Thread.ofVirtual().start(() -> {
                    try (InputStream in = process.getInputStream()) {
                        in.transferTo(stdout);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return fail(command + " timed out after " + timeoutSeconds + " s");
            }
            if (reader != null) {
                reader.join();
            }
            if (feeder != null) {
                feeder.join();
            }
            String stderr = Files.readString(stderrFile);
            Files.delete(stderrFile);
            return new Result(process.exitValue(), stdout.toByteArray(), stderr);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs and fails the test (with the stderr) unless the command exits 0. */
    static Result check(List<String> command, Path stdoutFile, long timeoutSeconds) {
        Result result = run(command, null, stdoutFile, timeoutSeconds);
        if (result.exitStatus() != 0) {
            fail(command + " exited " + result.exitStatus() + ": " + result.stderr());
        }
        return result;
    }
}
