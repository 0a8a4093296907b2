package org.thinsr.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code thinsr vhd}: inspect VHD files. */
@Command(
        name = "vhd",
        mixinStandardHelpOptions = true,
        description = "Inspect VHD files (Microsoft Virtual Hard Disk: fixed, dynamic, differencing).",
        subcommands = {VhdInfoCommand.class, VhdCheckCommand.class})
final class VhdCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
