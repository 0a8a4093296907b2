package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-list",
        mixinStandardHelpOptions = true,
        description = "List the VDIs of an SR: UUID KIND VIRTUAL-SIZE VOLUME-OR-URI NAME-LABEL.")
final class VdiListCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        VdiPrinter.printList(out, options.lifecycle().vdiList(options.srRef()), options.json);
        return 0;
    }
}
