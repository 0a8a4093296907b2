package org.thinsr.cli;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.Lifecycle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "vdi-set",
        mixinStandardHelpOptions = true,
        description = "Set a disk's name label, description and keys (xapi's vdi-type, content_id, is_a_snapshot,"
                + " snapshot_of, snapshot_time, or any other).")
final class VdiSetCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LifecycleOptions options;

    @Parameters(index = "0", paramLabel = "VDI", description = "The VDI: uuid or unique name label.")
    String vdi;

    @Option(names = "--name", paramLabel = "LABEL", description = "The new name label (the volume keeps its name).")
    String name;

    @Option(names = "--description", paramLabel = "TEXT", description = "The new description.")
    String description;

    @Option(names = "--key", paramLabel = "KEY=VALUE", description = "Set a key (repeatable).")
    Map<String, String> keys = new HashMap<>();

    @Option(names = "--unset", paramLabel = "KEY", description = "Remove a key (repeatable).")
    List<String> unset = List.of();

    @Override
    public Integer call() {
        Lifecycle lifecycle = options.lifecycle();
        String uuid = options.vdiUuid(lifecycle, vdi);
        VdiPrinter.print(
                spec.commandLine().getOut(),
                lifecycle.vdiSet(
                        options.srRef(),
                        uuid,
                        Optional.ofNullable(name),
                        Optional.ofNullable(description),
                        keys,
                        new HashSet<>(unset)),
                options.json);
        return 0;
    }
}
