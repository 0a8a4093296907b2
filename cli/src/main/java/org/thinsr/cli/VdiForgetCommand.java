package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-forget",
        mixinStandardHelpOptions = true,
        description = "Deregister a template; disks cloned from it keep working. Idempotent.")
final class VdiForgetCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI uuid.")
    String vdi;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (!options.lifecycle().vdiForget(options.srRef(), vdi)) {
            spec.commandLine().getErr().println("thinsr: VDI " + vdi + " does not exist (nothing to do)");
        }
        out.flush();
        return 0;
    }
}
