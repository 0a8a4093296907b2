package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.Lifecycle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-map",
        mixinStandardHelpOptions = true,
        description = "Print the allocation map of a disk, or with --base the ranges that differ from a snapshot.")
final class VdiMapCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Option(
            names = "--base",
            paramLabel = "SNAPSHOT",
            description = "Print the delta against this VDI (uuid or unique name label) instead.")
    String base;

    @Override
    public Integer call() {
        Lifecycle lifecycle = options.lifecycle();
        String uuid = options.vdiUuid(lifecycle, vdi);
        PrintWriter out = spec.commandLine().getOut();
        if (base == null) {
            AllocationMapPrinter.print(lifecycle.vdiMap(options.srRef(), uuid), options.json, out);
        } else {
            org.thinsr.allocmap.ExtentSet delta =
                    lifecycle.vdiDelta(options.srRef(), uuid, options.vdiUuid(lifecycle, base));
            if (options.json) {
                java.util.List<java.util.Map<String, Long>> extents = new java.util.ArrayList<>();
                delta.forEach((start, end) -> extents.add(java.util.Map.of("start", start, "length", end - start)));
                LifecycleOptions.printJson(out, java.util.Map.of("changed", extents));
            } else {
                delta.forEach((start, end) -> out.println(start + " " + (end - start) + " changed"));
                out.flush();
            }
        }
        return 0;
    }
}
