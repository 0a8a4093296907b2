package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs real tools for the integration tests; a missing tool fails the test naming its package. */
final class RawTools {
    private RawTools() {}

    /** Fails (never skips) when {@code tool} is not on the PATH. */
    static void require(String tool, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return;
            }
        }
        throw new AssertionError(tool + " is not installed: apt-get install " + debianPackage);
    }

    /** Runs {@code command} (no shell) with a timeout; returns stdout, throws with stderr on failure. */
    static String run(List<String> command) throws IOException, InterruptedException {
        Path stderr = Files.createTempFile("thinsr-it", ".err");
        try {
            Process process = new ProcessBuilder(new ArrayList<>(command))
                    .redirectError(stderr.toFile())
                    .start();
            process.getOutputStream().close();
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException(command + " timed out after 120 s");
            }
            if (process.exitValue() != 0) {
                throw new IOException(command + " exited with " + process.exitValue() + ": "
                        + Files.readString(stderr, StandardCharsets.UTF_8).strip());
            }
            return new String(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(stderr);
        }
    }
}
