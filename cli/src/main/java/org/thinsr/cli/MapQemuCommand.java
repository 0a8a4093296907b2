package org.thinsr.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.qmpclient.QemuAllocation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code thinsr map qemu IMAGE}: the allocation map of a qemu image file. */
@Command(
        name = "qemu",
        mixinStandardHelpOptions = true,
        description = "Print the allocation map of a qemu image file (qcow2, raw, ...), backing chain included."
                + " Starts and stops its own qemu-storage-daemon, or runs qemu-img map.")
final class MapQemuCommand implements Callable<Integer> {
    enum Method {
        daemon,
        qemu_img
    }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The image file.")
    Path image;

    @Option(
            names = {"-f", "--format"},
            paramLabel = "FORMAT",
            description = "Image format (qcow2, raw, ...); probed with qemu-img info when omitted.")
    String format;

    @Option(
            names = "--method",
            paramLabel = "METHOD",
            description = "daemon (default: NBD block status from a private qemu-storage-daemon) or qemu_img"
                    + " (qemu-img map --output=json); both give the same map.")
    Method method = Method.daemon;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Give up after this long (default 300).")
    long timeoutSeconds = 300;

    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(image) && !Files.exists(image)) {
            throw new NoSuchFileException(image.toString());
        }
        if (timeoutSeconds < 1) {
            throw new IllegalArgumentException("--timeout must be at least 1 second: " + timeoutSeconds);
        }
        Duration timeout = Duration.ofSeconds(timeoutSeconds);
        AllocationMap map =
                switch (method) {
                    case daemon -> QemuAllocation.viaDaemon(image, format, timeout);
                    case qemu_img -> QemuAllocation.fromQemuImgMap(image, format, timeout);
                };
        AllocationMapPrinter.print(map, json, spec.commandLine().getOut());
        return 0;
    }
}
