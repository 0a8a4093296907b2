package org.thinsr.cli;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.qmpclient.NbdConnection;
import org.thinsr.qmpclient.NbdUri;
import org.thinsr.qmpclient.QemuAllocation;
import org.thinsr.qmpclient.StatusRuns;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code thinsr map nbd URI}: the allocation map of an NBD export from block status. */
@Command(
        name = "nbd",
        mixinStandardHelpOptions = true,
        description = "Print the allocation map of an NBD export from NBD block status."
                + " By default base:allocation, combined with qemu:allocation-depth when the server offers it.")
final class MapNbdCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(
            index = "0",
            paramLabel = "URI",
            description = "nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH")
    String uri;

    @Option(
            names = "--context",
            paramLabel = "CONTEXT",
            description = "base:allocation (states only), qemu:allocation-depth (states and backing depth)"
                    + " or qemu:dirty-bitmap:NAME (dirty ranges as data, clean as hole)")
    String context;

    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        NbdUri target = NbdUri.parse(uri);
        List<String> contexts;
        if (context == null || context.equals(QemuAllocation.ALLOCATION_DEPTH)) {
            contexts = List.of(QemuAllocation.BASE_ALLOCATION, QemuAllocation.ALLOCATION_DEPTH);
        } else if (context.equals(QemuAllocation.BASE_ALLOCATION)
                || (context.startsWith(QemuAllocation.DIRTY_BITMAP_PREFIX)
                        && context.length() > QemuAllocation.DIRTY_BITMAP_PREFIX.length())) {
            contexts = List.of(context);
        } else {
            throw new ThinsrException(
                    ErrorCode.USAGE,
                    "unknown --context '" + context
                            + "', expected base:allocation, qemu:allocation-depth or qemu:dirty-bitmap:NAME");
        }
        try (NbdConnection connection = NbdConnection.connect(target, contexts, NbdConnection.Options.DEFAULT)) {
            for (String wanted : context == null ? List.of(QemuAllocation.BASE_ALLOCATION) : contexts) {
                if (connection.info().contextId(wanted) < 0) {
                    throw new ThinsrException(
                            ErrorCode.UNSUPPORTED,
                            "the NBD server does not offer the meta context " + wanted + " for " + target,
                            wanted);
                }
            }
            AllocationMap map;
            if (context != null && context.startsWith(QemuAllocation.DIRTY_BITMAP_PREFIX)) {
                StatusRuns runs = QemuAllocation.statusRuns(connection, 0, connection.size())
                        .get(context);
                map = AllocationMap.ofData(connection.size(), QemuAllocation.dirtyExtents(runs));
            } else {
                map = QemuAllocation.map(connection);
            }
            AllocationMapPrinter.print(map, json, spec.commandLine().getOut());
        }
        return 0;
    }
}
