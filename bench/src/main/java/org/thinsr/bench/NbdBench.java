package org.thinsr.bench;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.qmpclient.NbdBlockSource;
import org.thinsr.qmpclient.NbdConnection;
import org.thinsr.qmpclient.NbdUri;
import org.thinsr.qmpclient.QemuAllocation;
import org.thinsr.qmpclient.StatusRuns;

/**
 * Side-by-side NBD benchmark, run by {@code scripts/bench-nbd}: our client against {@code nbdcopy
 * URI null:} (read every data extent and discard it) or {@code nbdinfo --map} (block status of the
 * whole export), alternating runs of each after one warm-up run of each.
 *
 * <pre>
 * NbdBench read URI REPS CONNECTIONS REQUEST_BYTES IN_FLIGHT
 * NbdBench map  URI REPS
 * </pre>
 *
 * Prints one Markdown table row: minimum and median seconds of the peer and of ours, and the ratio
 * peer median / our median (above 1 means we are faster). Our time is measured inside the JVM
 * (connect, negotiate, block status, reads); JVM start-up is reported separately by the script.
 */
public final class NbdBench {
    private NbdBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: NbdBench read URI REPS [CONNECTIONS REQUEST_BYTES IN_FLIGHT] | map URI REPS");
            System.exit(2);
        }
        String mode = args[0];
        NbdUri uri = NbdUri.parse(args[1]);
        int reps = Integer.parseInt(args[2]);
        Runnable ours;
        List<String> peer;
        String label;
        switch (mode) {
            case "read" -> {
                int connections = args.length > 3 ? Integer.parseInt(args[3]) : 2;
                int requestBytes = args.length > 4 ? Integer.parseInt(args[4]) : 1 << 20;
                int inFlight = args.length > 5 ? Integer.parseInt(args[5]) : 16;
                ours = () -> check(readAllData(uri, connections, requestBytes, inFlight));
                peer = List.of("nbdcopy", uri.toString(), "null:");
                label = "read all data extents to null (" + connections + " conn, " + (requestBytes >> 10) + " KiB x "
                        + inFlight + ")";
            }
            case "map" -> {
                ours = () -> check(mapExtents(uri));
                peer = List.of("nbdinfo", "--map", uri.toString());
                label = "block status, whole export";
            }
            default -> throw new IllegalArgumentException("unknown mode " + mode);
        }
        runPeer(peer);
        ours.run();
        double[] peerSeconds = new double[reps];
        double[] ourSeconds = new double[reps];
        for (int i = 0; i < reps; i++) {
            long start = System.nanoTime();
            runPeer(peer);
            peerSeconds[i] = (System.nanoTime() - start) / 1e9;
            start = System.nanoTime();
            ours.run();
            ourSeconds[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(peerSeconds);
        Arrays.sort(ourSeconds);
        double peerMedian = peerSeconds[reps / 2];
        double ourMedian = ourSeconds[reps / 2];
        System.out.printf(
                Locale.ROOT,
                "| %s | %s | %d | %.3f / %.3f | %.3f / %.3f | %.2f× | %s |%n",
                label,
                String.join(" ", peer),
                reps,
                peerSeconds[0],
                peerMedian,
                ourSeconds[0],
                ourMedian,
                peerMedian / ourMedian,
                lastDetail);
    }

    private static String lastDetail = "";

    private static void check(String detail) {
        lastDetail = detail;
    }

    private static void runPeer(List<String> command) {
        try {
            Process process = new ProcessBuilder(command)
                    .redirectOutput(ProcessBuilder.Redirect.to(new File("/dev/null")))
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            if (!process.waitFor(10, TimeUnit.MINUTES) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IllegalStateException(command + " failed");
            }
        } catch (IOException e) {
            throw new IllegalStateException(command + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Reads every non-zero extent, discarding the bytes; returns a note with the bytes read. */
    static String readAllData(NbdUri uri, int connections, int requestBytes, int inFlight) {
        try (NbdBlockSource source = NbdBlockSource.open(uri, connections)) {
            ExtentSet data = source.allocationMap().nonZeroExtents();
            List<long[]> requests = new ArrayList<>();
            data.forEach((start, end) -> {
                for (long offset = start; offset < end; offset += requestBytes) {
                    requests.add(new long[] {offset, Math.min(requestBytes, end - offset)});
                }
            });
            int count = source.connections();
            List<Thread> workers = new ArrayList<>();
            long[] totals = new long[count];
            for (int worker = 0; worker < count; worker++) {
                int index = worker;
                NbdConnection connection = source.connection(worker);
                workers.add(Thread.ofPlatform()
                        .start(() ->
                                totals[index] = readShare(connection, requests, index, count, requestBytes, inFlight)));
            }
            for (Thread worker : workers) {
                worker.join();
            }
            long total = Arrays.stream(totals).sum();
            if (total != data.totalLength()) {
                throw new IllegalStateException("read " + total + " bytes, expected " + data.totalLength());
            }
            return String.format(
                    Locale.ROOT, "%d MiB in %d requests over %d connection(s)", total >> 20, requests.size(), count);
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static long readShare(
            NbdConnection connection, List<long[]> requests, int index, int stride, int requestBytes, int inFlight) {
        ByteBuffer[] buffers = new ByteBuffer[inFlight];
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        for (int i = 0; i < inFlight; i++) {
            buffers[i] = ByteBuffer.allocateDirect(requestBytes);
            pending.add(null);
        }
        long total = 0;
        int slot = 0;
        try {
            for (int r = index; r < requests.size(); r += stride) {
                if (pending.get(slot) != null) {
                    pending.get(slot).join();
                }
                long[] request = requests.get(r);
                ByteBuffer buffer = buffers[slot].clear().limit((int) request[1]);
                pending.set(slot, connection.readAsync(request[0], buffer));
                total += request[1];
                slot = (slot + 1) % inFlight;
            }
            for (CompletableFuture<Void> future : pending) {
                if (future != null) {
                    future.join();
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        return total;
    }

    /** Block status of the whole export with {@code base:allocation}; returns the extent count. */
    static String mapExtents(NbdUri uri) {
        try (NbdConnection connection =
                NbdConnection.connect(uri, List.of(QemuAllocation.BASE_ALLOCATION), NbdConnection.Options.DEFAULT)) {
            StatusRuns runs =
                    QemuAllocation.statusRuns(connection, 0, connection.size()).get(QemuAllocation.BASE_ALLOCATION);
            return runs.count() + " extents";
        } catch (IOException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }
}
