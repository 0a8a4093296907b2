package org.thinsr.vhdstream;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Real tools for the integration tests: a missing tool fails the test naming its Debian package. */
final class Tools {
    private Tools() {}

    /** Fails (never skips) when {@code tool} is not on the PATH. */
    static void require(String tool, String debianPackage) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : java.util.regex.Pattern.compile(File.pathSeparator)
                .splitAsStream(path)
                .toList()) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return;
            }
        }
        throw new AssertionError(tool + " is not installed: install the Debian package " + debianPackage);
    }

    /** The result of a finished command. */
    record Result(int exitCode, String stdout, String stderr) {}

    /** Runs {@code command} (no shell) with a timeout and returns its output, whatever the exit code. */
    static Result run(List<String> command, long timeoutSeconds) throws IOException, InterruptedException {
        Path out = Files.createTempFile("tool", ".out");
        Path err = Files.createTempFile("tool", ".err");
        try {
            Process process = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("timed out after " + timeoutSeconds + " s: " + command);
            }
            return new Result(
                    process.exitValue(),
                    Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Runs {@code command} and fails with its stderr unless it exits 0; returns stdout. */
    static String check(String... command) throws IOException, InterruptedException {
        List<String> list = new ArrayList<>(List.of(command));
        Result result = run(list, 120);
        if (result.exitCode() != 0) {
            throw new AssertionError(
                    "exit " + result.exitCode() + " from " + list + ": " + result.stderr() + result.stdout());
        }
        return result.stdout();
    }
}
