package org.thinsr.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.SmapiPlugin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "call",
        mixinStandardHelpOptions = true,
        description = "Run one SMAPIv3 method as xapi-storage-script does: named arguments as a JSON object on stdin,"
                + " the bare result on stdout, or {code, params, backtrace} and a non-zero exit status.")
final class PluginCallCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "METHOD", description = "The method, e.g. SR.create or Volume.snapshot.")
    String method;

    @Option(names = "--json", description = "Accepted for xapi-storage-script, which always passes it.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        byte[] input = System.in.readNBytes((1 << 20) + 1);
        SmapiPlugin plugin = new SmapiPlugin(new LifecycleOptions().lifecycle(), ThinsrCommand.Version.version());
        SmapiPlugin.Outcome outcome = plugin.call(method, input);
        PrintWriter out = spec.commandLine().getOut();
        out.println(outcome.stdout());
        out.flush();
        return outcome.exitStatus();
    }
}
