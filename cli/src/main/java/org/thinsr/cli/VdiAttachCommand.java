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
        name = "vdi-attach",
        mixinStandardHelpOptions = true,
        description = "Expose a disk for I/O and print where (an NBD URI or a device path). Idempotent.")
final class VdiAttachCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Option(names = "--read-only", description = "Attach read-only.")
    boolean readOnly;

    @Override
    public Integer call() {
        Lifecycle lifecycle = options.lifecycle();
        String uuid = options.vdiUuid(lifecycle, vdi);
        PrintWriter out = spec.commandLine().getOut();
        org.thinsr.lifecycle.Attachment attachment = lifecycle.vdiAttach(options.srRef(), uuid, readOnly);
        if (options.json) {
            LifecycleOptions.printJson(out, attachment);
        } else {
            out.println(attachment.target());
            out.flush();
        }
        return 0;
    }
}
