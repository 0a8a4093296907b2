package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.SrView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "sr-introduce",
        mixinStandardHelpOptions = true,
        description = "Register existing SR storage on this host, keeping its data. Idempotent.")
final class SrIntroduceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Override
    public Integer call() {
        SrView view = options.lifecycle()
                .srIntroduce(options.srRef()
                        .orElseThrow(() -> new ThinsrException(ErrorCode.USAGE, "sr-introduce needs --sr")));
        PrintWriter out = spec.commandLine().getOut();
        if (options.json) {
            LifecycleOptions.printJson(out, view);
        } else {
            out.println(view.uuid() + " " + view.location());
            out.flush();
        }
        return 0;
    }
}
