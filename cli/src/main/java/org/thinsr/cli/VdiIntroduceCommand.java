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
        name = "vdi-introduce",
        mixinStandardHelpOptions = true,
        description =
                "Register a read-only template image by URI (file, nbd, nbd+unix, http, https, or a scheme script).")
final class VdiIntroduceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "URI", description = "The template image URI.")
    String uri;

    @Option(names = "--name", paramLabel = "LABEL", description = "The name label (default: the last path segment).")
    String name = "";

    @Option(names = "--description", paramLabel = "TEXT", description = "The description.")
    String description = "";

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        VdiPrinter.print(out, options.lifecycle().vdiIntroduce(options.srRef(), uri, name, description), options.json);
        return 0;
    }
}
