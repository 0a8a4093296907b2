package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.SrView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "sr-list", mixinStandardHelpOptions = true, description = "List the SRs registered on this host.")
final class SrListCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Override
    public Integer call() {
        List<SrView> views = options.lifecycle().srList();
        PrintWriter out = spec.commandLine().getOut();
        if (options.json) {
            LifecycleOptions.printJson(out, views);
            return 0;
        }
        for (SrView view : views) {
            out.println(view.uuid() + " " + view.backend() + " " + view.vdiCount() + " " + view.location() + " "
                    + view.nameLabel());
        }
        out.flush();
        return 0;
    }
}
