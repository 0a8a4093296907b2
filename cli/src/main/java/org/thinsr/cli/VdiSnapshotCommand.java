package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.Lifecycle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-snapshot",
        mixinStandardHelpOptions = true,
        description = "Make a read-only point-in-time copy of a disk or a template.")
final class VdiSnapshotCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Override
    public Integer call() {
        Lifecycle lifecycle = options.lifecycle();
        String uuid = options.vdiUuid(lifecycle, vdi);
        PrintWriter out = spec.commandLine().getOut();
        VdiPrinter.print(out, lifecycle.vdiSnapshot(options.srRef(), uuid), options.json);
        return 0;
    }
}
