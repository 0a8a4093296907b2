package org.thinsr.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code thinsr}: the root of the command tree. Every command is registered in the one
 * {@code subcommands} list below (or in its group's list, e.g. {@link MapCommand}).
 */
@Command(
        name = "thinsr",
        mixinStandardHelpOptions = true,
        versionProvider = ThinsrCommand.Version.class,
        description = "Thin-provisioned local storage on LVM dm-thin, and sparse disk export, import and migration.",
        subcommands = {
            MapCommand.class,
            ConvertCommand.class,
            QmpCommand.class,
            ServeCommand.class,
            ExportCommand.class,
            ImportCommand.class,
            MigrateCommand.class,
            VdiCopyCommand.class,
            SrCreateCommand.class,
            SrIntroduceCommand.class,
            SrForgetCommand.class,
            SrDestroyCommand.class,
            SrListCommand.class,
            SrStatCommand.class,
            SrProbeCommand.class,
            VdiCreateCommand.class,
            VdiDestroyCommand.class,
            VdiSnapshotCommand.class,
            VdiCloneCommand.class,
            VdiResizeCommand.class,
            VdiIntroduceCommand.class,
            VdiForgetCommand.class,
            VdiListCommand.class,
            VdiStatCommand.class,
            VdiSetCommand.class,
            VdiAttachCommand.class,
            VdiDetachCommand.class,
            VdiMapCommand.class,
            PluginCommand.class
        })
final class ThinsrCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @picocli.CommandLine.Mixin
    DebugOption debug = new DebugOption();

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Prints {@code thinsr VERSION} from the build's filtered {@code version.properties}. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"thinsr " + version()};
        }

        static String version() {
            Properties properties = new Properties();
            try (InputStream in = ThinsrCommand.class.getResourceAsStream("version.properties")) {
                if (in == null) {
                    return "unknown";
                }
                properties.load(in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return properties.getProperty("version", "unknown");
        }
    }
}
