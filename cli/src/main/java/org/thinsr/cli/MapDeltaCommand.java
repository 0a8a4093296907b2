package org.thinsr.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinDelta;
import org.thinsr.allocmap.ThinDumpParser;
import org.thinsr.allocmap.ThinMetadata;
import org.thinsr.allocmap.ThinsrException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code thinsr map delta}: what changed from one thin device to another, as an allocation map of
 * the second read as a differencing image over the first.
 */
@Command(
        name = "delta",
        mixinStandardHelpOptions = true,
        description = "Print what changed from thin device --snap1 to --snap2, as thin_delta does. The map shows"
                + " --snap2 over --snap1: changed blocks are local (data, or zero where --snap2 no longer maps a"
                + " block), unchanged ones origin.")
final class MapDeltaCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "thin_dump XML, or - for standard input.")
    String file;

    @Option(names = "--snap1", required = true, paramLabel = "ID", description = "The earlier device (dev_id).")
    long snap1;

    @Option(names = "--snap2", required = true, paramLabel = "ID", description = "The later device (dev_id).")
    long snap2;

    @Option(
            names = "--size",
            paramLabel = "BYTES",
            description = "The volume size in bytes (default: the end of the last block mapped by either device).")
    Long size;

    @Option(names = "--json", description = "Print JSON instead of one run per line.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (size != null && size < 0) {
            throw new ThinsrException(ErrorCode.INVALID_ARGUMENT, "--size is negative: " + size);
        }
        ThinMetadata metadata;
        try (InputStream in = MapThinDumpCommand.open(file)) {
            metadata = ThinDumpParser.create().parse(in, MapThinDumpCommand.sourceName(file), Set.of(snap1, snap2));
        }
        ThinDelta delta = ThinDelta.compute(metadata.device(snap1), metadata.device(snap2));
        AllocationMapPrinter.print(toMap(delta, size), json, spec.commandLine().getOut());
        return 0;
    }

    /**
     * The delta as a map of the later device over the earlier one: DIFFERENT and RIGHT_ONLY are
     * LOCAL DATA, LEFT_ONLY LOCAL ZERO (the block was discarded), SAME ORIGIN DATA, blocks mapped by
     * neither side ORIGIN HOLE. Clipped to or extended to {@code size} when given.
     */
    static AllocationMap toMap(ThinDelta delta, Long size) {
        long blockBytes = delta.dataBlockSizeBytes();
        long end = 0;
        if (delta.runCount() > 0) {
            end = Math.multiplyExact(delta.run(delta.runCount() - 1).end(), blockBytes);
        }
        long virtualSize = size != null ? size : end;
        AllocationMap.Builder builder = AllocationMap.builder(virtualSize);
        for (ThinDelta.Run run : delta.runs()) {
            long start = Math.multiplyExact(run.begin(), blockBytes);
            if (start >= virtualSize) {
                break;
            }
            long runEnd = Math.min(virtualSize, Math.multiplyExact(run.end(), blockBytes));
            builder.fillTo(start, State.HOLE, Provenance.ORIGIN);
            switch (run.kind()) {
                case SAME -> builder.add(start, runEnd, State.DATA, Provenance.ORIGIN);
                case DIFFERENT, RIGHT_ONLY -> builder.add(start, runEnd, State.DATA, Provenance.LOCAL);
                case LEFT_ONLY -> builder.add(start, runEnd, State.ZERO, Provenance.LOCAL);
            }
        }
        return builder.fillTo(virtualSize, State.HOLE, Provenance.ORIGIN).build();
    }
}
