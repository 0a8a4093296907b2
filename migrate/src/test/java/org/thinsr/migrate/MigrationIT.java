package org.thinsr.migrate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.httpexport.HttpDiskClient;
import org.thinsr.httpexport.LifecycleDiskStore;
import org.thinsr.httpexport.ServerConfig;
import org.thinsr.httpexport.StandardFormats;
import org.thinsr.httpexport.ThinsrServer;
import org.thinsr.lifecycle.Attachments;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.Progress;
import org.thinsr.lifecycle.Provisioning;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.VdiView;

/**
 * Migration between real file SRs (qcow2, qemu-storage-daemon, NBD) and between two real {@code
 * thinsr serve} instances: identical content checked by qemu-img compare, only allocated bytes sent,
 * a writer during the copy, a destination killed mid-copy and resumed, nothing orphaned on failure.
 */
class MigrationIT {
    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    private Lifecycle lifecycle;
    private Optional<SrRef> source;
    private Optional<SrRef> target;
    private ThinsrServer server;
    private final List<LifecycleDiskStore> stores = new java.util.ArrayList<>();

    @BeforeEach
    void start() {
        MigrationTesting.require("qemu-img", "qemu-utils");
        MigrationTesting.require("qemu-storage-daemon", "qemu-system-common");
        lifecycle = MigrationTesting.fileLifecycle(dir);
        source = Optional.of(SrRef.file(dir.resolve("sr1")));
        target = Optional.of(SrRef.file(dir.resolve("sr2")));
        lifecycle.srCreate(source.get(), Optional.empty(), "one", "");
        lifecycle.srCreate(target.get(), Optional.empty(), "two", "");
    }

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
        stores.forEach(LifecycleDiskStore::close);
        for (Optional<SrRef> each : List.of(source, target)) {
            assertThat(lifecycle.vdiList(each))
                    .allSatisfy(vdi ->
                            assertThat(vdi.attachment()).as("left attached").isNull());
        }
    }

    private Migration.Options options(boolean keepPartial, int passes) {
        return MigrationTesting.options(dir.resolve("state"), keepPartial, passes);
    }

    private LifecycleDiskStore store() {
        LifecycleDiskStore store = new LifecycleDiskStore(lifecycle, target);
        stores.add(store);
        return store;
    }

    /** A VDI with data in scattered 1 MiB pieces and an explicitly zeroed run; the rest holes. */
    private VdiView sourceVdi() throws IOException {
        VdiView vdi = lifecycle.vdiCreate(source, "web disk", "", SIZE, Provisioning.THIN, Map.of(), Progress.NONE);
        Random random = new Random(11);
        try (BlockSink sink = Attachments.openSink(lifecycle.vdiAttach(source, vdi.uuid(), false))) {
            for (long offset = 0; offset < SIZE; offset += 7L << 20) {
                byte[] data = new byte[1 << 20];
                random.nextBytes(data);
                sink.write(offset, ByteBuffer.wrap(data));
            }
            sink.write(SIZE - 512, ByteBuffer.wrap(new byte[] {1, 2, 3}));
            sink.writeZeroes(3L << 20, 2L << 20);
            sink.flush();
        } finally {
            lifecycle.vdiDetach(source, vdi.uuid());
        }
        return lifecycle.vdiStat(source, vdi.uuid());
    }

    private static void assertSameContent(Path a, Path b) throws Exception {
        Process compare = new ProcessBuilder(
                        "qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", a.toString(), b.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(compare.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(compare.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(compare.exitValue()).as(output).isZero();
    }

    @Test
    void copyToAnotherSrSendsOnlyAllocatedDataAndVerifies() throws Exception {
        VdiView vdi = sourceVdi();
        long allocated = lifecycle.vdiMap(source, vdi.uuid()).nonZeroExtents().totalLength();
        Migration.Report report;
        try (LocalDestination destination = new LocalDestination(lifecycle, target)) {
            report = new Migration(
                            lifecycle, source, destination, options(false, 2), MigrationTesting.QUIET, () -> false)
                    .run(vdi.uuid());
        }
        assertThat(report.verified()).isTrue();
        assertThat(report.sentBytes()).isEqualTo(allocated).isLessThanOrEqualTo((long) (allocated * 1.01));
        VdiView copy = lifecycle.vdiStat(target, report.destinationVdi());
        assertSameContent(Path.of(vdi.path()), Path.of(copy.path()));
        assertThat(lifecycle.vdiList(source)).as("snapshots removed").hasSize(1);
        assertThat(lifecycle.vdiStat(source, vdi.uuid()).keys())
                .containsEntry(Lifecycle.KEY_CONTENT_ID, report.contentId());
        assertThat(copy.keys()).containsEntry(Lifecycle.KEY_CONTENT_ID, report.contentId());
    }

    /**
     * A writer on the attached VDI's NBD export keeps writing through the first snapshot (a live one:
     * its connection must survive) and into pass 1; it stops, and is quiet, before the second
     * snapshot, so the delta passes must bring the destination to exactly the source.
     */
    @Test
    void writerDuringTheCopyIsCaughtByDeltaPasses() throws Exception {
        VdiView vdi = sourceVdi();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicBoolean inPassOne = new AtomicBoolean();
        AtomicInteger writesInPassOne = new AtomicInteger();
        AtomicInteger writes = new AtomicInteger();
        AtomicReference<Throwable> writerFailure = new AtomicReference<>();
        CountDownLatch writerDone = new CountDownLatch(1);
        BlockSink writer = Attachments.openSink(lifecycle.vdiAttach(source, vdi.uuid(), false));
        Thread thread = new Thread(() -> {
            Random random = new Random(12);
            try {
                for (int i = 0; i < 20_000 && !stop.get(); i++) {
                    boolean afterFirstSnapshot = inPassOne.get();
                    byte[] data = new byte[65536];
                    random.nextBytes(data);
                    writer.write(random.nextLong(SIZE / 65536) * 65536, ByteBuffer.wrap(data));
                    writer.flush();
                    writes.incrementAndGet();
                    if (afterFirstSnapshot) {
                        writesInPassOne.incrementAndGet();
                    }
                }
            } catch (Throwable e) {
                writerFailure.set(e);
            } finally {
                writerDone.countDown();
            }
        });
        Migration.Listener stopDuringPassOne = new Migration.Listener() {
            @Override
            public void pass(int pass, long bytesToSend, long bytesToZero) {
                inPassOne.set(pass == 1);
                if (pass == 2) {
                    stop.set(true);
                }
            }

            @Override
            public void progress(int pass, long sentBytes, long zeroedBytes, long totalData, long totalZeros) {
                if (pass == 1 && sentBytes * 2 >= totalData && !stop.get()) {
                    // let the writer work during pass 1, then stop it before the next snapshot
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (writesInPassOne.get() < 20 && writerDone.getCount() > 0 && System.nanoTime() < deadline) {
                        LockSupport.parkNanos(1_000_000);
                    }
                    stop.set(true);
                    try {
                        assertThat(writerDone.await(30, TimeUnit.SECONDS))
                                .as("writer stopped")
                                .isTrue();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        };
        thread.start();
        Migration.Report report;
        try (LocalDestination destination = new LocalDestination(lifecycle, target)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (writes.get() < 5 && writerDone.getCount() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            report = new Migration(lifecycle, source, destination, options(false, 5), stopDuringPassOne, () -> false)
                    .run(vdi.uuid());
        } finally {
            stop.set(true);
            thread.join();
            writer.close();
            lifecycle.vdiDetach(source, vdi.uuid());
        }
        assertThat(writerFailure.get()).as("writer failure").isNull();
        assertThat(writesInPassOne.get())
                .as("writes after the first snapshot, during pass 1")
                .isGreaterThanOrEqualTo(20);
        assertThat(report.passes()).isGreaterThanOrEqualTo(2);
        assertSameContent(
                Path.of(vdi.path()),
                Path.of(lifecycle.vdiStat(target, report.destinationVdi()).path()));
    }

    @Test
    void migrationToAServerKilledMidCopyResumesWithoutResendingAndFailureLeavesNothing() throws Exception {
        VdiView vdi = sourceVdi();
        LifecycleDiskStore killedStore = store();
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), killedStore, StandardFormats.all(), line -> {});
        int port = server.port();
        HttpDiskClient client = new HttpDiskClient(server.uri(), Optional.empty());
        Migration.Listener killer = new Migration.Listener() {
            @Override
            public void pass(int pass, long bytesToSend, long bytesToZero) {}

            @Override
            public void progress(int pass, long sentBytes, long zeroedBytes, long totalData, long totalZeros) {
                if (sentBytes * 2 >= totalData && server != null) {
                    try {
                        server.close();
                        killedStore.close(); // what ends with the process: its attachments
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    server = null;
                }
            }
        };
        SparseCopier.Options slow = new SparseCopier.Options(1, 1 << 20, BandwidthLimiter.unlimited(), 1 << 20);
        Migration.Options keep = new Migration.Options(slow, 0, 1, true, 1 << 20, true, dir.resolve("state"));
        assertThatThrownBy(
                        () -> new Migration(lifecycle, source, new HttpDestination(client), keep, killer, () -> false)
                                .run(vdi.uuid()))
                .isInstanceOf(RuntimeException.class);
        assertThat(lifecycle.vdiList(target)).as("kept for --resume").hasSize(1);

        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", port), store(), StandardFormats.all(), line -> {});
        // resumed with four workers: a tunnel each (the server's daemon offers multi-conn)
        Migration.Options keepFour = new Migration.Options(
                new SparseCopier.Options(4, 1 << 20, BandwidthLimiter.unlimited(), 1 << 20),
                0,
                1,
                true,
                1 << 20,
                true,
                dir.resolve("state"));
        Migration.Report resumed = new Migration(
                        lifecycle, source, new HttpDestination(client), keepFour, MigrationTesting.QUIET, () -> false)
                .resume(vdi.uuid());
        assertThat(serverMetric("thinsr_nbd_tunnels_total{relay=\"splice\"}"))
                .as("tunnels of the resumed pass, relayed in the kernel")
                .isEqualTo(4);
        long allocated = lifecycle.vdiMap(source, vdi.uuid()).nonZeroExtents().totalLength();
        assertThat(resumed.skippedBytes()).isPositive();
        assertThat(resumed.sentBytes() + resumed.skippedBytes()).isEqualTo(allocated);
        assertSameContent(
                Path.of(vdi.path()),
                Path.of(lifecycle.vdiStat(target, resumed.destinationVdi()).path()));
        assertThat(lifecycle.vdiList(source)).as("snapshots removed").hasSize(1);

        // a migration that fails without --keep-partial removes the destination VDI it made
        Migration.Options discard = new Migration.Options(slow, 0, 1, true, 1 << 20, false, dir.resolve("state"));
        assertThatThrownBy(() -> new Migration(
                                lifecycle,
                                source,
                                new HttpDestination(client),
                                discard,
                                MigrationTesting.QUIET,
                                () -> true)
                        .run(vdi.uuid()))
                .hasMessageContaining("cancelled");
        assertThat(lifecycle.vdiList(target)).as("only the resumed copy").hasSize(1);
        assertThat(lifecycle.vdiList(source)).hasSize(1);
    }

    @Test
    void aSnapshotThatFailsRemovesTheServersVdiCreatedMeanwhile() throws Exception {
        VdiView vdi = sourceVdi();
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store(), StandardFormats.all(), line -> {});
        HttpDiskClient client = new HttpDiskClient(server.uri(), Optional.empty());
        lifecycle.vdiAttach(source, vdi.uuid(), false); // in use: snapshotted live, through its monitor
        List<Path> monitors;
        try (var files = Files.list(dir.resolve("run"))) {
            monitors = files.filter(file -> file.toString().endsWith(".qmp")).toList();
        }
        assertThat(monitors).hasSize(1);
        Path away = monitors.getFirst().resolveSibling("moved-away");
        Files.move(monitors.getFirst(), away);
        Files.createFile(monitors.getFirst()); // not a socket: the live snapshot cannot reach the daemon
        try {
            assertThatThrownBy(() -> new Migration(
                                    lifecycle,
                                    source,
                                    new HttpDestination(client),
                                    options(true, 0),
                                    MigrationTesting.QUIET,
                                    () -> false)
                            .run(vdi.uuid()))
                    .isInstanceOf(RuntimeException.class);
        } finally {
            Files.move(away, monitors.getFirst(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            lifecycle.vdiDetach(source, vdi.uuid());
        }
        assertThat(lifecycle.vdiList(target))
                .as("the server's VDI, created while the snapshot was tried, is gone (even with keep-partial)")
                .isEmpty();
        assertThat(lifecycle.vdiList(source)).as("no snapshot left").hasSize(1);
    }

    /** {@code thinsr_http_bytes_in_total} of the running server: request body bytes it read. */
    private long serverBytesIn() throws Exception {
        return serverMetric("thinsr_http_bytes_in_total");
    }

    /** A metric of the running server, by its name and labels as /metrics prints them. */
    private long serverMetric(String name) throws Exception {
        try (java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient()) {
            String metrics = http.send(
                            java.net.http.HttpRequest.newBuilder(server.uri().resolve("metrics"))
                                    .build(),
                            java.net.http.HttpResponse.BodyHandlers.ofString())
                    .body();
            return metrics.lines()
                    .filter(line -> line.startsWith(name + " "))
                    .mapToLong(line -> (long) Double.parseDouble(line.substring(name.length() + 1)))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no " + name + " in " + metrics));
        }
    }

    /** Chunk headers and terminator of a chunked body carrying {@code extents}: 12 per chunk + 12. */
    private static long chunkedFraming(org.thinsr.allocmap.ExtentSet extents) {
        long chunks = 0;
        for (int i = 0; i < extents.size(); i++) {
            long length = extents.end(i) - extents.start(i);
            chunks += (length + ChunkedPassBody.MAX_CHUNK_BYTES - 1) / ChunkedPassBody.MAX_CHUNK_BYTES;
        }
        return 12 * chunks + 12;
    }

    private XapiImportDestination xapi(String vdi) {
        return new XapiImportDestination(
                java.net.URI.create(server.uri() + "import_raw_vdi?vdi=" + vdi + "&task_id=t-" + vdi),
                Optional.empty());
    }

    private Migration.Options xapiOptions(int passes) {
        return new Migration.Options(
                new SparseCopier.Options(1, 4 << 20, BandwidthLimiter.unlimited()),
                passes,
                1,
                false,
                1 << 20,
                false,
                dir.resolve("state"));
    }

    @Test
    void migrationIntoXapiImportRawVdiSendsOneChunkedPutOfTheDataOnly() throws Exception {
        VdiView vdi = sourceVdi();
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store(), StandardFormats.all(), line -> {});
        String destinationVdi = new HttpDiskClient(server.uri(), Optional.empty())
                .create("from thinsr", SIZE)
                .id();
        org.thinsr.allocmap.ExtentSet data =
                lifecycle.vdiMap(source, vdi.uuid()).nonZeroExtents();
        long allocated = data.totalLength();
        List<long[]> passes = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<long[]> progress = new java.util.concurrent.CopyOnWriteArrayList<>();
        Migration.Listener recorder = new Migration.Listener() {
            @Override
            public void pass(int pass, long bytesToSend, long bytesToZero) {
                passes.add(new long[] {pass, bytesToSend, bytesToZero});
            }

            @Override
            public void progress(int pass, long sentBytes, long zeroedBytes, long totalData, long totalZeros) {
                progress.add(new long[] {pass, sentBytes, zeroedBytes, totalData, totalZeros});
            }
        };
        long before = serverBytesIn();
        Migration.Report report;
        try (XapiImportDestination destination = xapi(destinationVdi)) {
            report = new Migration(lifecycle, source, destination, xapiOptions(0), recorder, () -> false)
                    .run(vdi.uuid());
        }
        long received = serverBytesIn() - before;

        assertThat(report.destinationVdi()).isEqualTo(destinationVdi);
        assertThat(report.passes()).isEqualTo(1);
        assertThat(report.sentBytes()).isEqualTo(allocated).isEqualTo(report.allocatedBytes());
        assertThat(report.zeroedBytes()).isZero();
        assertThat(report.verified()).isFalse();
        assertThat(received)
                .as("body bytes the server read: the data plus the chunk framing, nothing of holes or zero runs")
                .isEqualTo(allocated + chunkedFraming(data))
                .isLessThanOrEqualTo(allocated + 12 * (allocated / (4 << 20) + data.size()) + 12);
        assertThat(passes).hasSize(1);
        assertThat(passes.getFirst()).containsExactly(1, allocated, 0);
        assertThat(progress.getLast()).containsExactly(1, allocated, 0, allocated, 0);
        assertSameContent(
                Path.of(vdi.path()),
                Path.of(lifecycle.vdiStat(target, destinationVdi).path()));
        assertThat(lifecycle.vdiList(target))
                .as("nothing created on the destination")
                .hasSize(1);
        assertThat(lifecycle.vdiList(source)).as("snapshot removed").hasSize(1);
        assertThat(lifecycle.vdiStat(source, vdi.uuid()).keys())
                .containsEntry(Lifecycle.KEY_CONTENT_ID, report.contentId());
    }

    @Test
    void deltaPassesIntoXapiImportRawVdiCarryZeroedRangesAsZeroChunks() throws Exception {
        VdiView vdi = sourceVdi();
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store(), StandardFormats.all(), line -> {});
        String destinationVdi = new HttpDiskClient(server.uri(), Optional.empty())
                .create("from thinsr", SIZE)
                .id();
        AtomicBoolean changed = new AtomicBoolean();
        List<long[]> passes = new java.util.concurrent.CopyOnWriteArrayList<>();
        Migration.Listener changeDuringFirstPass = new Migration.Listener() {
            @Override
            public void pass(int pass, long bytesToSend, long bytesToZero) {
                passes.add(new long[] {pass, bytesToSend, bytesToZero});
            }

            @Override
            public void progress(int pass, long sentBytes, long zeroedBytes, long totalData, long totalZeros) {
                if (pass == 1 && !changed.getAndSet(true)) {
                    // the source is attached (in use) from here on, so delta passes follow
                    try (BlockSink writer = Attachments.openSink(lifecycle.vdiAttach(source, vdi.uuid(), false))) {
                        writer.writeZeroes(7L << 20, 1L << 20); // data that becomes zero
                        byte[] fresh = new byte[65536];
                        new Random(13).nextBytes(fresh);
                        writer.write(40L << 20, ByteBuffer.wrap(fresh)); // a hole that becomes data
                        writer.flush();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            }
        };
        Migration.Report report;
        try (XapiImportDestination destination = xapi(destinationVdi)) {
            report = new Migration(lifecycle, source, destination, xapiOptions(3), changeDuringFirstPass, () -> false)
                    .run(vdi.uuid());
        } finally {
            lifecycle.vdiDetach(source, vdi.uuid());
        }
        assertThat(changed).isTrue();
        assertThat(report.passes()).isGreaterThanOrEqualTo(2);
        assertThat(passes.get(1)[2]).as("pass 2 zeroes what became zero").isGreaterThanOrEqualTo(1L << 20);
        assertThat(report.zeroedBytes()).isGreaterThanOrEqualTo(1L << 20);
        assertSameContent(
                Path.of(vdi.path()),
                Path.of(lifecycle.vdiStat(target, destinationVdi).path()));
        assertThat(lifecycle.vdiList(source)).as("snapshots removed").hasSize(1);
    }

    @Test
    void xapiImportRawVdiFailuresArePreciseAndChangeNothing() throws Exception {
        VdiView vdi = sourceVdi();
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store(), StandardFormats.all(), line -> {});
        HttpDiskClient client = new HttpDiskClient(server.uri(), Optional.empty());
        String small = client.create("too small", SIZE / 2).id();
        long before = serverBytesIn();

        // --verify: refused before anything is snapshotted or sent
        assertThatThrownBy(() -> new Migration(
                                lifecycle,
                                source,
                                xapi(small),
                                new Migration.Options(
                                        new SparseCopier.Options(1, 4 << 20, BandwidthLimiter.unlimited()),
                                        0,
                                        1,
                                        true,
                                        1 << 20,
                                        false,
                                        dir.resolve("state")),
                                MigrationTesting.QUIET,
                                () -> false)
                        .run(vdi.uuid()))
                .isInstanceOfSatisfying(org.thinsr.allocmap.ThinsrException.class, e -> assertThat(e.code())
                        .isEqualTo(org.thinsr.allocmap.ErrorCode.USAGE))
                .hasMessageStartingWith("--verify: xapi /import_raw_vdi has no checksum endpoint");
        assertThat(serverBytesIn()).isEqualTo(before);
        assertThat(lifecycle.vdiList(source)).as("no snapshot made").hasSize(1);

        // a VDI the server does not have: its 404 and error body, exit status 4
        String missing = "00000000-0000-0000-0000-000000000000";
        assertThatThrownBy(() -> new Migration(
                                lifecycle, source, xapi(missing), xapiOptions(0), MigrationTesting.QUIET, () -> false)
                        .run(vdi.uuid()))
                .isInstanceOfSatisfying(org.thinsr.allocmap.ThinsrException.class, e -> {
                    assertThat(e.code()).isEqualTo(org.thinsr.allocmap.ErrorCode.VDI_NOT_FOUND);
                    assertThat(e.code().exitStatus()).isEqualTo(4);
                })
                .hasMessageStartingWith("PUT " + server.uri() + "import_raw_vdi?vdi=" + missing + "&task_id=t-"
                        + missing + " answered 404: VDI_NOT_FOUND: ");

        // a VDI too small: the server answered 200 before the body, the failure is in its task
        assertThatThrownBy(() -> new Migration(
                                lifecycle, source, xapi(small), xapiOptions(0), MigrationTesting.QUIET, () -> false)
                        .run(vdi.uuid()))
                .isInstanceOf(org.thinsr.allocmap.ThinsrException.class)
                .hasMessageContaining("import task t-" + small + " failed")
                .hasMessageContaining("chunk end on the disk");
        assertThat(client.allocationMap(small, SIZE / 2).nonZeroExtents().isEmpty())
                .as("the failed import left the VDI as it was")
                .isTrue();
        assertThat(lifecycle.vdiList(target)).as("nothing created or removed").hasSize(1);
        assertThat(lifecycle.vdiList(source)).as("snapshots removed").hasSize(1);
        assertThat(lifecycle.vdiStat(source, vdi.uuid()).keys()).doesNotContainKey(Lifecycle.KEY_CONTENT_ID);
    }

    /** {@code nbdkit memory} on a unix socket, with optional filter arguments; killed with the test. */
    private Process nbdkit(Path socket, String... extra) throws Exception {
        MigrationTesting.require("nbdkit", "nbdkit");
        List<String> command =
                new java.util.ArrayList<>(List.of("nbdkit", "-f", "--exit-with-parent", "-U", socket.toString()));
        command.addAll(List.of(extra));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        for (int i = 0; i < 100 && !Files.exists(socket); i++) {
            Thread.sleep(50);
        }
        assertThat(socket).exists();
        return process;
    }

    @Test
    void migrationIntoAnNbdExportSendsOnlyDataAndVerifies() throws Exception {
        VdiView vdi = sourceVdi();
        Path socket = dir.resolve("nbd.sock");
        Process server = nbdkit(socket, "memory", "size=" + SIZE);
        try {
            Migration.Report report = new Migration(
                            lifecycle,
                            source,
                            new NbdDestination("nbd+unix:///?socket=" + socket),
                            options(false, 0),
                            MigrationTesting.QUIET,
                            () -> false)
                    .run(vdi.uuid());
            assertThat(report.verified()).isTrue();
            assertThat(report.sentBytes())
                    .isEqualTo(lifecycle
                            .vdiMap(source, vdi.uuid())
                            .nonZeroExtents()
                            .totalLength());
        } finally {
            server.destroy();
        }
        assertThat(lifecycle.vdiList(source)).as("snapshot removed").hasSize(1);
    }

    @Test
    void anNbdServerWithoutMultiConnGetsOneConnectionAtATimeShownByNbdkitsLog() throws Exception {
        VdiView vdi = sourceVdi();
        Path socket = dir.resolve("single.sock");
        Path log = dir.resolve("nbdkit.log");
        Process server = nbdkit(
                socket,
                "--filter=log",
                "--filter=multi-conn",
                "memory",
                "size=" + SIZE,
                "multi-conn-mode=disable",
                "logfile=" + log);
        Migration.Report report;
        try (NbdDestination destination = new NbdDestination("nbd+unix:///?socket=" + socket, 4)) {
            report = new Migration(
                            lifecycle, source, destination, options(false, 0), MigrationTesting.QUIET, () -> false)
                    .run(vdi.uuid());
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
        assertThat(report.verified()).isTrue();
        // nbdkit logs a Disconnect when it notices the close, which may come after the verifier's
        // Connect: so check the copy itself, from the writer's Connect to its last Write
        List<String> lines = Files.readAllLines(log);
        java.util.Set<String> writers = new java.util.HashSet<>();
        int lastWrite = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(" Write ")) {
                writers.add(connectionId(lines.get(i)));
                lastWrite = i;
            }
        }
        assertThat(writers).as("connections that wrote (the workers share one)").hasSize(1);
        String writer = writers.iterator().next();
        int connected = -1;
        for (int i = 0; i < lines.size() && connected < 0; i++) {
            if (lines.get(i).contains(" Connect ") && connectionId(lines.get(i)).equals(writer)) {
                connected = i;
            }
        }
        assertThat(lines.subList(connected + 1, lastWrite + 1))
                .as("connections opened while the copy wrote")
                .noneMatch(line -> line.contains(" Connect "));
    }

    private static String connectionId(String nbdkitLogLine) {
        return nbdkitLogLine.replaceAll(".* connection=(\\d+) .*", "$1");
    }

    @Test
    void destinationErrorsInjectedByNbdkitFailPreciselyAndLeaveNoSnapshot() throws Exception {
        VdiView vdi = sourceVdi();
        Path full = dir.resolve("full.sock");
        Process server =
                nbdkit(full, "--filter=error", "memory", "size=" + SIZE, "error=ENOSPC", "error-pwrite-rate=100%");
        try {
            assertThatThrownBy(() -> new Migration(
                                    lifecycle,
                                    source,
                                    new NbdDestination("nbd+unix:///?socket=" + full),
                                    options(false, 0),
                                    MigrationTesting.QUIET,
                                    () -> false)
                            .run(vdi.uuid()))
                    .isInstanceOfSatisfying(org.thinsr.qmpclient.NbdException.class, e -> assertThat(e.errnoName())
                            .isEqualTo("ENOSPC"));
        } finally {
            server.destroy();
        }
        Path flaky = dir.resolve("flaky.sock");
        server = nbdkit(flaky, "--filter=error", "memory", "size=" + SIZE, "error=EIO", "error-pwrite-rate=30%");
        try {
            assertThatThrownBy(() -> new Migration(
                                    lifecycle,
                                    source,
                                    new NbdDestination("nbd+unix:///?socket=" + flaky),
                                    options(false, 0),
                                    MigrationTesting.QUIET,
                                    () -> false)
                            .run(vdi.uuid()))
                    .isInstanceOfSatisfying(org.thinsr.qmpclient.NbdException.class, e -> assertThat(e.errnoName())
                            .isEqualTo("EIO"));
        } finally {
            server.destroy();
        }
        assertThat(lifecycle.vdiList(source))
                .as("snapshots removed after each failure")
                .hasSize(1);
        assertThat(lifecycle.vdiStat(source, vdi.uuid()).keys()).doesNotContainKey(Lifecycle.KEY_CONTENT_ID);
    }
}
