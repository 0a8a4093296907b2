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
        name = "vdi-forget",
        mixinStandardHelpOptions = true,
        description = "Deregister a template; disks cloned from it keep working. Idempotent.")
final class VdiForgetCommand implements Callable<Integer> {
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
        if (!lifecycle.vdiForget(options.srRef(), uuid)) {
            spec.commandLine().getErr().println("thinsr: VDI " + vdi + " does not exist (nothing to do)");
        }
        out.flush();
        return 0;
    }
}
