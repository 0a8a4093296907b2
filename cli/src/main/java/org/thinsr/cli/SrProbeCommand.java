package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.SrView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(
        name = "sr-probe",
        mixinStandardHelpOptions = true,
        description = "Report whether a thinsr SR exists at a location, without registering it.")
final class SrProbeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Override
    public Integer call() {
        List<SrView> found = options.lifecycle()
                .srProbe(
                        options.srRef().orElseThrow(() -> new ThinsrException(ErrorCode.USAGE, "sr-probe needs --sr")));
        PrintWriter out = spec.commandLine().getOut();
        if (options.json) {
            LifecycleOptions.printJson(out, found);
            return 0;
        }
        for (SrView view : found) {
            out.println(view.uuid() + " " + view.backend() + " " + view.location() + " " + view.nameLabel());
        }
        out.flush();
        return 0;
    }
}
