package org.thinsr.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code thinsr plugin}: the SMAPIv3 storage plugin for xapi. */
@Command(
        name = "plugin",
        mixinStandardHelpOptions = true,
        description = "The SMAPIv3 (xapi-storage) plugin: install its wrappers, or run one method.",
        subcommands = {PluginInstallCommand.class, PluginCallCommand.class})
final class PluginCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
