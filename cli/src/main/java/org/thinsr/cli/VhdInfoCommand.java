package org.thinsr.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import org.thinsr.vhdstream.VhdInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code thinsr vhd info FILE}: every footer and header field and a BAT summary. */
@Command(
        name = "info",
        mixinStandardHelpOptions = true,
        description = "Print every footer and dynamic header field of a VHD file and a summary of its BAT."
                + " Checksums are shown, not enforced (see thinsr vhd check).")
final class VhdInfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The VHD file.")
    Path file;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        VhdInfo info;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            info = VhdInfo.read(channel);
        }
        if (json) {
            spec.commandLine().getOut().println(info.toJson());
        } else {
            spec.commandLine().getOut().print(info.toText());
        }
        spec.commandLine().getOut().flush();
        return 0;
    }
}
