package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-resize",
        mixinStandardHelpOptions = true,
        description = "Grow a disk to a new virtual size; shrinking is refused.")
final class VdiResizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI uuid.")
    String vdi;

    @Parameters(
            index = "1",
            paramLabel = "SIZE",
            converter = SizeConverter.class,
            description = "The new virtual size: bytes, or with a K, M, G, T suffix.")
    long size;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        VdiPrinter.print(out, options.lifecycle().vdiResize(options.srRef(), vdi, size), options.json);
        return 0;
    }
}
