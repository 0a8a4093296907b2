package org.thinsr.migrate;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.thinsr.lifecycle.CommandRunner;
import org.thinsr.lifecycle.FileBackend;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.ThinsrHome;
import org.thinsr.lifecycle.UriSchemes;

/** What the migrate module's integration tests share: quiet listeners, options, tool checks. */
final class MigrationTesting {
    /** A listener that ignores every event. */
    static final Migration.Listener QUIET = new Migration.Listener() {
        @Override
        public void pass(int pass, long bytesToSend, long bytesToZero) {}

        @Override
        public void progress(int pass, long sentBytes, long zeroedBytes, long totalDataBytes, long totalZeroBytes) {}
    };

    private MigrationTesting() {}

    /** A lifecycle of file SRs only, with its run directory and home under {@code dir}. */
    static Lifecycle fileLifecycle(Path dir) {
        FileBackend backend = new FileBackend(CommandRunner.PROCESSES, dir.resolve("run"));
        return new Lifecycle(
                kind -> backend,
                UriSchemes.standard(List.of(), Map.of(), Optional.empty()),
                new ThinsrHome(dir.resolve("home")),
                CommandRunner.PROCESSES,
                Duration.ofSeconds(60),
                Clock.systemUTC());
    }

    /**
     * Two workers of 1 MiB chunks, unlimited bandwidth, a 1-byte delta threshold, verification over 1
     * MiB blocks, the state under {@code stateDirectory}.
     */
    static Migration.Options options(Path stateDirectory, boolean keepPartial, int deltaPasses) {
        return new Migration.Options(
                new SparseCopier.Options(2, 1 << 20, BandwidthLimiter.unlimited()),
                deltaPasses,
                1,
                true,
                1 << 20,
                keepPartial,
                stateDirectory);
    }

    /** Fails (never skips) when {@code tool} is not on PATH or in /usr/sbin, naming the Debian package. */
    static void require(String tool, String debianPackage) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin") + File.pathSeparator + "/usr/sbin:/sbin";
        for (String directory : path.split(File.pathSeparator, -1)) {
            if (!directory.isEmpty() && Files.isExecutable(Path.of(directory, tool))) {
                return;
            }
        }
        throw new AssertionError("'" + tool + "' is not installed: install the Debian package " + debianPackage);
    }
}
