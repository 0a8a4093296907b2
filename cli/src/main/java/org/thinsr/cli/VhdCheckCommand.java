package org.thinsr.cli;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.thinsr.vhdstream.CorruptImageException;
import org.thinsr.vhdstream.VhdCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code thinsr vhd check FILE}: exit 0 when consistent, 3 with the first problem otherwise. */
@Command(
        name = "check",
        mixinStandardHelpOptions = true,
        description = "Check a VHD file's consistency: footers, header, BAT bounds, overlapping blocks."
                + " Prints the first problem and exits 3, or prints that the file is consistent.")
final class VhdCheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The VHD file.")
    Path file;

    @Override
    public Integer call() throws IOException {
        Optional<String> problem;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            problem = VhdCheck.firstProblem(channel);
        }
        if (problem.isPresent()) {
            throw new CorruptImageException(file + ": " + problem.get());
        }
        spec.commandLine().getOut().println(file + ": consistent");
        spec.commandLine().getOut().flush();
        return 0;
    }
}
