package org.thinsr.cli;

import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.migrate.LocalDestination;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-copy",
        mixinStandardHelpOptions = true,
        description = "Copy a VDI into a new thin VDI of another SR on this host, reading only allocated blocks.")
final class VdiCopyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Mixin
    CopyOptions copy;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI to copy: uuid or unique name label.")
    String vdi;

    @Option(names = "--to-sr", required = true, paramLabel = "SR", description = "The SR to copy into (as --sr).")
    String toSr;

    @Override
    public Integer call() throws IOException {
        Lifecycle lifecycle = options.lifecycle();
        String uuid = resolve(lifecycle, options, vdi);
        return copy.run(
                spec, lifecycle, options, uuid, new LocalDestination(lifecycle, Optional.of(SrRef.parse(toSr))));
    }

    /** A VDI by uuid or unique name label. */
    static String resolve(Lifecycle lifecycle, LifecycleOptions options, String vdi) {
        return lifecycle.vdiResolve(options.srRef(), vdi, "\0").uuid();
    }
}
