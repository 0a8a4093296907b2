package org.thinsr.cli;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.AllocationMaps;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.QemuImgMapParser;
import org.thinsr.allocmap.ThinDevice;
import org.thinsr.allocmap.ThinDumpParser;
import org.thinsr.allocmap.ThinsrException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code thinsr map thin-dump}: the allocation map of one thin device from {@code thin_dump} XML. */
@Command(
        name = "thin-dump",
        mixinStandardHelpOptions = true,
        description = "Print the allocation map of a thin device from thin_dump XML. Its mapped blocks are local"
                + " data; with --origin-map (qemu-img map --output=json of its external origin) the origin's"
                + " data, zeros and holes show elsewhere as origin, and past the origin's end holes.")
final class MapThinDumpCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "thin_dump XML, or - for standard input.")
    String file;

    @Option(names = "--device", required = true, paramLabel = "ID", description = "The thin device id (dev_id).")
    long device;

    @Option(
            names = "--size",
            required = true,
            paramLabel = "BYTES",
            description = "The thin volume's size in bytes; the map covers exactly this.")
    long size;

    @Option(
            names = "--origin-map",
            paramLabel = "QEMU_MAP.json",
            description = "qemu-img map --output=json of the volume's external origin (a template).")
    Path originMap;

    @Option(
            names = "--origin-size",
            paramLabel = "BYTES",
            description = "The origin's size in bytes; the origin map must cover exactly this.")
    Long originSize;

    @Option(names = "--json", description = "Print JSON instead of one run per line.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (size < 0) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "--size is negative: " + size);
        }
        if (originSize != null && originMap == null) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "--origin-size needs --origin-map");
        }
        ThinDevice thin;
        try (InputStream in = open(file)) {
            thin = ThinDumpParser.create().parse(in, sourceName(file), device).device(device);
        }
        AllocationMap map;
        if (originMap == null) {
            map = AllocationMap.ofData(size, thin.mappedExtents());
        } else {
            AllocationMap origin;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(originMap), 1 << 16)) {
                origin = originSize == null
                        ? QemuImgMapParser.parse(in, originMap.toString())
                        : QemuImgMapParser.parse(in, originMap.toString(), originSize);
            }
            map = AllocationMaps.mergeExternalOrigin(size, thin.mappedExtents(), origin);
        }
        AllocationMapPrinter.print(map, json, spec.commandLine().getOut());
        return 0;
    }

    /** The named file, or standard input for {@code -}; the caller closes it. */
    static InputStream open(String file) throws IOException {
        if (file.equals("-")) {
            return new BufferedInputStream(System.in, 1 << 16) {
                @Override
                public void close() {
                    // standard input stays open
                }
            };
        }
        return new BufferedInputStream(Files.newInputStream(Path.of(file)), 1 << 16);
    }

    static String sourceName(String file) {
        return file.equals("-") ? "stdin" : file;
    }
}
