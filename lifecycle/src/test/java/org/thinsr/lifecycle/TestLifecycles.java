package org.thinsr.lifecycle;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Lifecycles for tests: a home, run and scheme directories under one work directory. */
final class TestLifecycles {
    static final Instant NOW = Instant.parse("2026-01-02T03:04:05Z");

    private TestLifecycles() {}

    static Lifecycle create(Path workDir, Duration lockWait) {
        FileBackend backend = new FileBackend(CommandRunner.PROCESSES, workDir.resolve("run"));
        Backends backends = kind -> switch (kind) {
            case FileBackend.KIND -> backend;
            default -> Backends.standard().forKind(kind);
        };
        UriSchemes schemes =
                UriSchemes.standard(List.of(workDir.resolve("schemes")), Map.of(), Optional.of(bundledSchemes()));
        return new Lifecycle(
                backends,
                schemes,
                new ThinsrHome(workDir.resolve("home")),
                CommandRunner.PROCESSES,
                lockWait,
                Clock.fixed(NOW, ZoneOffset.UTC));
    }

    /** lifecycle/schemes in the source tree (the test's working directory is the module). */
    static Path bundledSchemes() {
        return Path.of("schemes").toAbsolutePath();
    }
}
