package org.thinsr.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code thinsr map}: allocation maps from thin_dump, thin_delta, NBD and qemu. */
@Command(
        name = "map",
        mixinStandardHelpOptions = true,
        description = "Print the allocation map of a disk: which byte ranges hold data, zeros or nothing.",
        subcommands = {MapThinDumpCommand.class, MapDeltaCommand.class, MapNbdCommand.class, MapQemuCommand.class})
final class MapCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
