package org.thinsr.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.migrate.BandwidthLimiter;
import org.thinsr.migrate.LiveMirror;
import picocli.CommandLine.Model.CommandSpec;

/** {@code migrate --live}: checks the options that apply, runs a {@link LiveMirror} and prints its report. */
final class LiveMigration {
    /** Options of {@code migrate} that mean nothing for qemu's mirror, and why. */
    private static final List<String[]> REFUSED = List.of(
            new String[] {"--token", "the destination is an NBD export"},
            new String[] {"--connections", "qemu's mirror uses one NBD connection"},
            new String[] {"--delta-passes", "qemu's mirror follows writes itself"},
            new String[] {"--verify", "the source and the destination diverge from the switch on"},
            new String[] {"--keep-partial", "a failed or cancelled mirror leaves the VDI on its source"},
            new String[] {"--resume", "a failed or cancelled mirror leaves the VDI on its source"});

    private final CommandSpec spec;
    private final LifecycleOptions options;
    private final CopyOptions copy;

    LiveMigration(CommandSpec spec, LifecycleOptions options, CopyOptions copy) {
        this.spec = spec;
        this.options = options;
        this.copy = copy;
    }

    int run(String vdi, String to) throws IOException {
        for (String[] refused : REFUSED) {
            if (spec.commandLine().getParseResult().hasMatchedOption(refused[0])) {
                throw new ThinsrException(
                        ErrorCode.USAGE, "--live: " + refused[0] + " does not apply (" + refused[1] + ")", refused[0]);
            }
        }
        LiveMirror.destination(to);
        long bytesPerSecond = copy.bandwidth == null
                ? 0
                : BandwidthLimiter.parse(copy.bandwidth).bytesPerSecond();
        Lifecycle lifecycle = options.lifecycle();
        String uuid = VdiCopyCommand.resolve(lifecycle, options, vdi);
        PrintWriter out = spec.commandLine().getOut();
        MigrationProgress progress =
                new MigrationProgress(out, spec.commandLine().getErr(), options.json);
        try (Interruption interruption = new Interruption(Duration.ofMinutes(2))) {
            LiveMirror.Report report = new LiveMirror(
                            lifecycle,
                            options.srRef(),
                            LiveMirror.Options.defaults(bytesPerSecond),
                            progress,
                            interruption::cancelled)
                    .run(uuid, to);
            progress.finish();
            if (options.json) {
                LifecycleOptions.printJson(out, report);
            } else {
                out.printf(
                        "%s: mirrored into %s (%d bytes copied, %.1f s); its attachment now reads and writes the"
                                + " destination, the source volume keeps the content as of the switch%n",
                        report.vdi(), report.destination(), report.copiedBytes(), report.seconds());
                out.flush();
            }
            return 0;
        }
    }
}
