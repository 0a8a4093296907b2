package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-destroy",
        mixinStandardHelpOptions = true,
        description = "Destroy a disk; its snapshots and clones stay. Idempotent (an unknown VDI is fine).")
final class VdiDestroyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI uuid.")
    String vdi;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        boolean existed = options.lifecycle().vdiDestroy(options.srRef(), vdi);
        if (!existed) {
            spec.commandLine().getErr().println("thinsr: VDI " + vdi + " does not exist (nothing to do)");
        }
        out.flush();
        return 0;
    }
}
