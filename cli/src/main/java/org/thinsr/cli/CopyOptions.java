package org.thinsr.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.migrate.BandwidthLimiter;
import org.thinsr.migrate.Migration;
import org.thinsr.migrate.SparseCopier;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** The options of {@code migrate} and {@code vdi-copy}, and the one place that runs a {@link Migration}. */
final class CopyOptions {
    @Option(
            names = "--connections",
            paramLabel = "N",
            description = "Parallel copy streams (default: ${DEFAULT-VALUE}).")
    int connections = 4;

    @Option(names = "--bandwidth", paramLabel = "RATE", description = "Limit in bytes per second, e.g. 100M or 1.5G.")
    String bandwidth;

    @Option(names = "--verify", description = "Compare a SHA-256 of every block on both sides at the end.")
    boolean verify;

    @Option(
            names = "--delta-passes",
            paramLabel = "N",
            description = "While the VDI is in use, copy what changed up to N more times (default: ${DEFAULT-VALUE}).")
    int deltaPasses = 5;

    @Option(
            names = "--keep-partial",
            description = "On failure or Ctrl-C keep the destination and the copy state for --resume.")
    boolean keepPartial;

    @Option(
            names = "--resume",
            description = "Continue an interrupted copy kept by --keep-partial, without resending finished blocks.")
    boolean resume;

    int run(
            CommandSpec spec,
            Lifecycle lifecycle,
            LifecycleOptions options,
            String vdiUuid,
            Migration.Destination destination)
            throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        MigrationProgress progress =
                new MigrationProgress(out, spec.commandLine().getErr(), options.json);
        Migration.Options migrationOptions = new Migration.Options(
                new SparseCopier.Options(
                        connections,
                        4 << 20,
                        bandwidth == null ? BandwidthLimiter.unlimited() : BandwidthLimiter.parse(bandwidth)),
                deltaPasses,
                64L << 20,
                verify,
                1 << 20,
                keepPartial || resume,
                stateDirectory(lifecycle));
        try (destination;
                Interruption interruption = new Interruption(Duration.ofMinutes(2))) {
            Migration migration = new Migration(
                    lifecycle, options.srRef(), destination, migrationOptions, progress, interruption::cancelled);
            Migration.Report report = resume ? migration.resume(vdiUuid) : migration.run(vdiUuid);
            progress.finish();
            if (options.json) {
                LifecycleOptions.printJson(out, report);
            } else {
                out.printf(
                        "%s: %d of %d bytes sent (%d allocated, %d skipped as already sent) in %d pass(es), %.1f s%s%n",
                        report.destinationVdi(),
                        report.sentBytes(),
                        report.virtualSize(),
                        report.allocatedBytes(),
                        report.skippedBytes(),
                        report.passes(),
                        report.seconds(),
                        report.verified() ? ", verified" : "");
                out.flush();
            }
            return 0;
        }
    }

    private static Path stateDirectory(Lifecycle lifecycle) {
        return lifecycle.home().directory().resolve("migrations");
    }
}
