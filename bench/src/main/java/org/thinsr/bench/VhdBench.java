package org.thinsr.bench;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.vhdstream.EarlyWriteback;
import org.thinsr.vhdstream.RawFileSink;
import org.thinsr.vhdstream.RawFileSource;
import org.thinsr.vhdstream.VhdLayout;
import org.thinsr.vhdstream.VhdOptions;
import org.thinsr.vhdstream.VhdReader;
import org.thinsr.vhdstream.VhdWriter;

/**
 * The thinsr side of {@code scripts/bench-vhd} (not a test):
 *
 * <pre>
 * VhdBench export RAW OUT.vhd [--no-zero-scan]   raw file (SEEK_DATA/SEEK_HOLE map) to dynamic VHD
 * VhdBench import IN.vhd OUT.raw                  VHD to a new sparse raw file
 * </pre>
 *
 * Prints one line: the phase timings in milliseconds. The output is fsync'ed before the end.
 */
public final class VhdBench {
    private VhdBench() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: VhdBench export RAW OUT.vhd [--no-zero-scan] | import IN.vhd OUT.raw");
            System.exit(2);
        }
        long start = System.nanoTime();
        switch (args[0]) {
            case "export" -> {
                boolean zeroScan = !(args.length > 3 && args[3].equals("--no-zero-scan"));
                try (RawFileSource source = RawFileSource.open(Path.of(args[1]));
                        FileChannel out = FileChannel.open(
                                Path.of(args[2]),
                                StandardOpenOption.CREATE,
                                StandardOpenOption.TRUNCATE_EXISTING,
                                StandardOpenOption.WRITE)) {
                    AllocationMap map = source.allocationMap();
                    long mapped = System.nanoTime();
                    VhdLayout layout = VhdLayout.plan(
                            map, VhdOptions.dynamic(Instant.now()).withSkipZeroBlocks(zeroScan), source);
                    long planned = System.nanoTime();
                    try (EarlyWriteback _ = EarlyWriteback.start(Path.of(args[2]))) {
                        new VhdWriter(layout, source).write(out);
                        out.force(false);
                    }
                    long written = System.nanoTime();
                    System.out.printf(
                            "export map %d ms, plan %d ms, write %d ms, %d blocks, %d bytes%n",
                            (mapped - start) / 1_000_000,
                            (planned - mapped) / 1_000_000,
                            (written - planned) / 1_000_000,
                            layout.presentBlockCount(),
                            layout.length());
                }
            }
            case "import" -> {
                try (FileChannel in = FileChannel.open(Path.of(args[1]), StandardOpenOption.READ)) {
                    long size = org.thinsr.vhdstream.VhdInfo.read(in).footer().currentSize();
                    // as the CLI: four writes in flight
                    java.util.concurrent.ExecutorService writers =
                            java.util.concurrent.Executors.newFixedThreadPool(4, runnable -> {
                                Thread thread = new Thread(runnable, "bench-write");
                                thread.setDaemon(true);
                                return thread;
                            });
                    try (RawFileSink sink = RawFileSink.create(Path.of(args[2]), size);
                            org.thinsr.allocmap.WriteBehindSink behind =
                                    new org.thinsr.allocmap.WriteBehindSink(sink, 4, writers, false)) {
                        VhdReader.Result result = VhdReader.readFile(in, behind, true);
                        System.out.printf(
                                "import %d ms, %d blocks, %d bytes written%n",
                                (System.nanoTime() - start) / 1_000_000, result.blocks(), result.bytesWritten());
                    } finally {
                        writers.shutdownNow();
                    }
                }
            }
            default -> {
                System.err.println("unknown mode " + args[0]);
                System.exit(2);
            }
        }
    }
}
