package org.thinsr.cli;

import java.io.PrintWriter;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.SrConfig;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.SrView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "sr-create",
        mixinStandardHelpOptions = true,
        description = "Create a new SR: a directory of qcow2 files, or an LVM thin pool (lvm:VG).")
final class SrCreateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Option(names = "--name", paramLabel = "LABEL", description = "The SR's name label.")
    String name = "";

    @Option(names = "--description", paramLabel = "TEXT", description = "The SR's description.")
    String description = "";

    @Option(names = "--uuid", paramLabel = "UUID", description = "The SR uuid to use (default: a random one).")
    String uuid;

    @Option(
            names = "--config",
            paramLabel = "KEY=VALUE",
            description = "A backend configuration key (repeatable), e.g. device=/dev/sdb (lvm-thin, own the world),"
                    + " mode=be-nice, pool-size=10G.")
    Map<String, String> config = new HashMap<>();

    @Override
    public Integer call() {
        org.thinsr.lifecycle.Lifecycle lifecycle = options.lifecycle();
        SrRef base = options.srRef().orElseGet(() -> lifecycle.home().defaultSr());
        Map<String, String> merged = new HashMap<>(base.config().configuration());
        merged.putAll(config);
        SrRef ref = new SrRef(base.backend(), new SrConfig(merged));
        SrView view = lifecycle.srCreate(ref, Optional.ofNullable(uuid), name, description);
        PrintWriter out = spec.commandLine().getOut();
        if (options.json) {
            LifecycleOptions.printJson(out, view);
        } else {
            out.println(view.uuid() + " " + ref.text());
            out.flush();
        }
        return 0;
    }
}
