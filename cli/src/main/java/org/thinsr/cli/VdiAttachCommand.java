package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-attach",
        mixinStandardHelpOptions = true,
        description = "Expose a disk for I/O and print where (an NBD URI or a device path). Idempotent.")
final class VdiAttachCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI uuid.")
    String vdi;

    @Option(names = "--read-only", description = "Attach read-only.")
    boolean readOnly;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        org.thinsr.lifecycle.Attachment attachment = options.lifecycle().vdiAttach(options.srRef(), vdi, readOnly);
        if (options.json) {
            LifecycleOptions.printJson(out, attachment);
        } else {
            out.println(attachment.target());
            out.flush();
        }
        return 0;
    }
}
