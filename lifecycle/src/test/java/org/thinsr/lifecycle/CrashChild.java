package org.thinsr.lifecycle;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The child JVM of {@link CrashSafetyIT}: runs one operation on an SR with a crash point armed
 * ({@code -Dthinsr.crashPoint=...}), which halts the JVM part-way.
 *
 * <p>Arguments: {@code WORKDIR SR OPERATION [VDI]} with OPERATION {@code create}, {@code
 * create-preallocated}, {@code snapshot}, {@code destroy} or {@code lock-and-sleep}.
 */
public final class CrashChild {
    private CrashChild() {}

    @SuppressWarnings("try") // the lock is held while sleeping
    public static void main(String[] args) throws Exception {
        Path workDir = Path.of(args[0]);
        Optional<SrRef> sr = Optional.of(SrRef.parse(args[1]));
        Lifecycle lifecycle = TestLifecycles.create(workDir, Duration.ofSeconds(30));
        switch (args[2]) {
            case "create" -> lifecycle.vdiCreate(sr, "crashy", "", 8 << 20, Provisioning.THIN, Map.of(), Progress.NONE);
            case "create-preallocated" ->
                lifecycle.vdiCreate(sr, "crashy", "", 64 << 20, Provisioning.PREALLOCATED, Map.of(), Progress.NONE);
            case "snapshot" -> lifecycle.vdiSnapshot(sr, args[3]);
            case "destroy" -> lifecycle.vdiDestroy(sr, args[3]);
            case "lock-and-sleep" -> {
                FileBackend backend = new FileBackend(CommandRunner.PROCESSES, workDir.resolve("run"));
                SrInfo info = backend.introduceSr(SrRef.parse(args[1]).config());
                try (SrLock lock = SrLock.acquire(backend.lockFile(info), Duration.ofSeconds(5))) {
                    System.out.println("locked");
                    System.out.flush();
                    Thread.sleep(Duration.ofSeconds(60));
                }
            }
            default -> throw new IllegalArgumentException("unknown operation " + args[2]);
        }
        System.out.println("finished");
    }
}
