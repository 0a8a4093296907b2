package org.thinsr.qmpclient;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Real tools for integration tests: a missing one fails the test naming its Debian package. */
final class Tools {
    private Tools() {}

    static void require(String program, String debianPackage) {
        for (String directory :
                System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator, -1)) {
            if (Files.isExecutable(Path.of(directory, program))) {
                return;
            }
        }
        throw new AssertionError(program + " is not installed: install the Debian package " + debianPackage);
    }

    /** Runs a command (argument list, no shell) and returns its stdout; fails with its stderr. */
    static String run(Duration timeout, String... command) throws IOException {
        return CommandRunner.run(
                List.of(command), timeout, in -> new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }

    static String run(String... command) throws IOException {
        return run(Duration.ofSeconds(60), command);
    }

    /** A fresh directory under target/it/ for one test's generated images and sockets. */
    static Path workDirectory(String name) throws IOException {
        Path directory = Path.of("target", "it", name).toAbsolutePath();
        if (Files.exists(directory)) {
            try (var files = Files.walk(directory)) {
                for (Path path :
                        files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(path);
                }
            }
        }
        Files.createDirectories(directory);
        return directory;
    }

    /** A server process (qemu-nbd, nbdkit) listening on a unix socket, killed on close. */
    static final class Server implements AutoCloseable {
        final Process process;
        final Path socket;

        private Server(Process process, Path socket) {
            this.process = process;
            this.socket = socket;
        }

        static Server start(Path socket, Path log, String... command) throws IOException {
            Files.deleteIfExists(socket);
            Process process = new ProcessBuilder(new ArrayList<>(List.of(command)))
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (!Files.exists(socket)) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    process.destroyForcibly();
                    throw new IOException(
                            String.join(" ", command) + " did not create " + socket + ": " + Files.readString(log));
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException();
                }
            }
            return new Server(process, socket);
        }

        NbdUri uri(String export) {
            return NbdUri.unix(socket, export);
        }

        @Override
        public void close() {
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Parses {@code nbdinfo --map[=CONTEXT]} text output ({@code start length type description} per
     * line) into status runs, merging equal neighbours like ours.
     */
    static StatusRuns parseNbdinfoMap(String context, String text) {
        StatusRuns.Builder builder = StatusRuns.builder(context);
        long position = 0;
        for (String line : text.split("\n", -1)) {
            if (line.isBlank()) {
                continue;
            }
            String[] fields = line.strip().split("\\s+", 4);
            long start = Long.parseLong(fields[0]);
            long length = Long.parseLong(fields[1]);
            int type = (int) Long.parseLong(fields[2]);
            if (start != position) {
                throw new AssertionError("nbdinfo map has a gap at " + position + ": " + line);
            }
            position = start + length;
            builder.extendTo(position, type);
        }
        return builder.build();
    }
}
