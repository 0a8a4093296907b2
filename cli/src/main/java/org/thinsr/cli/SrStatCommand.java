package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.SrView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "sr-stat",
        mixinStandardHelpOptions = true,
        description = "Print an SR's uuid, labels and space figures in bytes.")
final class SrStatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Override
    public Integer call() {
        SrView view = options.lifecycle().srStat(options.srRef());
        PrintWriter out = spec.commandLine().getOut();
        if (options.json) {
            LifecycleOptions.printJson(out, view);
            return 0;
        }
        out.println("uuid: " + view.uuid());
        out.println("name-label: " + view.nameLabel());
        out.println("description: " + view.description());
        out.println("backend: " + view.backend());
        out.println("location: " + view.location());
        out.println("vdis: " + view.vdiCount());
        out.println("total-bytes: " + view.stat().totalBytes());
        out.println("free-bytes: " + view.stat().freeBytes());
        out.println("physical-utilisation-bytes: " + view.stat().physicalUtilisationBytes());
        out.println("virtual-allocation-bytes: " + view.stat().virtualAllocationBytes());
        out.flush();
        return 0;
    }
}
