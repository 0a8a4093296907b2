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
        name = "vdi-stat",
        mixinStandardHelpOptions = true,
        description = "Print one VDI: labels, volume, sizes in bytes, keys, attachment.")
final class VdiStatCommand implements Callable<Integer> {
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
        VdiPrinter.print(out, lifecycle.vdiStat(options.srRef(), uuid), options.json);
        return 0;
    }
}
