package org.thinsr.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.thinsr.lifecycle.PluginInstaller;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "install",
        mixinStandardHelpOptions = true,
        description = "Write the SMAPIv3 wrappers (one sh script per method exec'ing 'thinsr plugin call METHOD')"
                + " into DIR.")
final class PluginInstallCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "DIR",
            description = "The volume plugin directory, e.g." + " /usr/libexec/xapi-storage-script/volume/org.thinsr.")
    Path directory;

    @Option(
            names = "--datapath-dir",
            paramLabel = "DIR",
            description = "Where the Datapath.* wrappers go (default:"
                    + " DIR too), e.g. /usr/libexec/xapi-storage-script/datapath/thinsr.")
    Path datapathDirectory;

    @Option(
            names = "--command",
            paramLabel = "PATH",
            description = "The thinsr launcher the wrappers run (default:"
                    + " this checkout's bin/thinsr if there is one, else thinsr from PATH).")
    String command;

    @Override
    public Integer call() throws IOException {
        String launcher = command != null ? command : defaultLauncher();
        List<Path> written = PluginInstaller.install(
                directory, datapathDirectory != null ? datapathDirectory : directory, List.of(launcher));
        PrintWriter out = spec.commandLine().getOut();
        written.forEach(out::println);
        out.flush();
        return 0;
    }

    private static String defaultLauncher() {
        return LifecycleOptions.bundledSchemes()
                .map(schemes -> schemes.getParent().getParent().resolve("bin").resolve("thinsr"))
                .filter(Files::isExecutable)
                .map(Path::toString)
                .orElse("thinsr");
    }
}
