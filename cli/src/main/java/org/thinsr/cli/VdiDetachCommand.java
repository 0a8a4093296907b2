package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "vdi-detach", mixinStandardHelpOptions = true, description = "Undo vdi-attach. Idempotent.")
final class VdiDetachCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI uuid.")
    String vdi;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        options.lifecycle().vdiDetach(options.srRef(), vdi);
        out.flush();
        return 0;
    }
}
