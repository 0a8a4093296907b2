package org.thinsr.lifecycle;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The production wiring of a {@link Lifecycle} from the environment. */
public final class Lifecycles {
    /** Default bound on waiting for an SR lock. */
    public static final Duration DEFAULT_LOCK_WAIT = Duration.ofSeconds(60);

    private Lifecycles() {}

    /**
     * A lifecycle using {@code XDG_DATA_HOME}/{@code HOME} for its home, {@code XDG_RUNTIME_DIR} for
     * exports, {@code schemeDirectories} then {@code THINSR_SCHEME_DIR} then the xapi directory then
     * the bundled scheme directory (system property {@code thinsr.schemes.dir}, set by the
     * launcher) for URI schemes, and {@code THINSR_LOCK_WAIT_SECONDS} (default 60) for the lock bound.
     */
    public static Lifecycle standard(Map<String, String> environment, List<Path> schemeDirectories) {
        Optional<Path> bundled =
                Optional.ofNullable(System.getProperty("thinsr.schemes.dir")).map(Path::of);
        Duration lockWait = DEFAULT_LOCK_WAIT;
        String wait = environment.get("THINSR_LOCK_WAIT_SECONDS");
        if (wait != null && wait.matches("[0-9]{1,6}")) {
            lockWait = Duration.ofSeconds(Long.parseLong(wait));
        }
        return new Lifecycle(
                Backends.standard(),
                UriSchemes.standard(schemeDirectories, environment, bundled),
                ThinsrHome.fromEnvironment(environment),
                CommandRunner.PROCESSES,
                lockWait,
                Clock.systemUTC());
    }
}
