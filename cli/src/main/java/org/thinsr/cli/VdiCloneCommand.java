package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.Lifecycle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-clone",
        mixinStandardHelpOptions = true,
        description = "Make a writable copy of a disk, or a thin disk backed by a template.")
final class VdiCloneCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Option(names = "--name", paramLabel = "LABEL", description = "The clone's name label (default: the source's).")
    String name;

    @Override
    public Integer call() {
        Lifecycle lifecycle = options.lifecycle();
        String uuid = options.vdiUuid(lifecycle, vdi);
        PrintWriter out = spec.commandLine().getOut();
        VdiPrinter.print(out, lifecycle.vdiClone(options.srRef(), uuid, Optional.ofNullable(name)), options.json);
        return 0;
    }
}
