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
        name = "vdi-resize",
        mixinStandardHelpOptions = true,
        description = "Grow a disk to a new virtual size; shrinking is refused.")
final class VdiResizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Parameters(
            index = "1",
            paramLabel = "SIZE",
            converter = SizeConverter.class,
            description = "The new virtual size: bytes, or with a K, M, G, T suffix.")
    long size;

    @Override
    public Integer call() {
        Lifecycle lifecycle = options.lifecycle();
        String uuid = options.vdiUuid(lifecycle, vdi);
        PrintWriter out = spec.commandLine().getOut();
        VdiPrinter.print(out, lifecycle.vdiResize(options.srRef(), uuid, size), options.json);
        return 0;
    }
}
