package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Test helper: real tools, run without a shell; a missing tool fails naming its Debian package. */
final class Tools {
    private Tools() {}

    static Path require(String tool, String debianPackage) {
        String pathVariable = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String directory : pathVariable.split(File.pathSeparator, -1)) {
            Path candidate = Path.of(directory.isEmpty() ? "." : directory, tool);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return fail("'" + tool + "' is not installed: install the Debian package " + debianPackage);
    }

    record Result(int status, String stdout, String stderr) {}

    /** Runs {@code command} with stdin from {@code stdin} (or nothing), bounded by 120 s. */
    static Result run(List<String> command, Path stdin) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(command));
        if (stdin != null) {
            builder.redirectInput(stdin.toFile());
        } else {
            builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        Path out = Files.createTempFile("tool", ".out");
        Path err = Files.createTempFile("tool", ".err");
        builder.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process process = builder.start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            return fail(command + " did not finish within 120 s");
        }
        Result result = new Result(
                process.exitValue(),
                Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        Files.delete(out);
        Files.delete(err);
        return result;
    }

    /** Runs {@code command} and fails the test unless it exits 0. */
    static Result check(List<String> command) throws IOException, InterruptedException {
        Result result = run(command, null);
        if (result.status() != 0) {
            fail(command + " exited " + result.status() + ": " + result.stderr());
        }
        return result;
    }
}
