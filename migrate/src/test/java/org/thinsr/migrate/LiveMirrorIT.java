package org.thinsr.migrate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.Attachment;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.Progress;
import org.thinsr.lifecycle.Provisioning;
import org.thinsr.lifecycle.QemuMonitor;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.VdiView;
import org.thinsr.qmpclient.NbdBlockSink;
import org.thinsr.qmpclient.NbdBlockSource;
import org.thinsr.qmpclient.NbdUri;
import org.thinsr.qmpclient.QmpClient;

/**
 * {@code --live}: qemu-storage-daemon's mirror of an attached file-SR VDI into a real qemu-nbd or
 * nbdkit export while a writer keeps writing through the attachment; the destination ends equal to
 * the writer's model, and failures leave the VDI attached to its intact source with no job or node
 * left in the daemon.
 */
class LiveMirrorIT {
    private static final int SIZE = 32 << 20;
    private static final int BLOCK = 64 << 10;

    @TempDir
    Path dir;

    private Lifecycle lifecycle;
    private Optional<SrRef> sr;
    private final List<Process> servers = new ArrayList<>();

    @BeforeEach
    void start() {
        MigrationTesting.require("qemu-img", "qemu-utils");
        MigrationTesting.require("qemu-nbd", "qemu-utils");
        MigrationTesting.require("qemu-storage-daemon", "qemu-system-common");
        lifecycle = MigrationTesting.fileLifecycle(dir);
        sr = Optional.of(SrRef.file(dir.resolve("sr")));
        lifecycle.srCreate(sr.get(), Optional.empty(), "one", "");
    }

    @AfterEach
    void stop() throws InterruptedException {
        for (VdiView vdi : lifecycle.vdiList(sr)) {
            lifecycle.vdiDetach(sr, vdi.uuid());
        }
        for (Process server : servers) {
            server.destroy();
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    /** Starts a server that listens on {@code socket}; killed after the test. */
    private Process server(Path socket, String... command) throws Exception {
        Path log = Path.of(socket + ".log");
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        servers.add(process);
        for (int i = 0; i < 200 && !Files.exists(socket) && process.isAlive(); i++) {
            Thread.sleep(50);
        }
        assertThat(socket)
                .as(String.join(" ", command) + ": " + Files.readString(log))
                .exists();
        return process;
    }

    /** A fresh raw file of {@code size} bytes exported by qemu-nbd, writable, for any number of clients. */
    private Path qemuNbdExport(String name, long size) throws Exception {
        Path image = dir.resolve(name + ".raw");
        run("qemu-img", "create", "-q", "-f", "raw", image.toString(), Long.toString(size));
        Path socket = dir.resolve(name + ".sock");
        server(socket, "qemu-nbd", "-f", "raw", "-t", "-e", "4", "-k", socket.toString(), image.toString());
        return image;
    }

    private static void run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue())
                .as(String.join(" ", command) + ": " + output)
                .isZero();
    }

    /** An attached VDI with random 1 MiB pieces every 3 MiB; {@code model} receives the same bytes. */
    private VdiView attachedVdi(byte[] model) throws IOException {
        VdiView vdi = lifecycle.vdiCreate(sr, "guest disk", "", SIZE, Provisioning.THIN, Map.of(), Progress.NONE);
        Random random = new Random(21);
        Attachment attachment = lifecycle.vdiAttach(sr, vdi.uuid(), false);
        try (BlockSink sink = NbdBlockSink.open(NbdUri.parse(attachment.target()), 1)) {
            for (int offset = 0; offset < SIZE; offset += 3 << 20) {
                byte[] data = new byte[1 << 20];
                random.nextBytes(data);
                System.arraycopy(data, 0, model, offset, data.length);
                sink.write(offset, ByteBuffer.wrap(data));
            }
            sink.flush();
        }
        return lifecycle.vdiStat(sr, vdi.uuid());
    }

    private static byte[] read(NbdUri uri) throws IOException {
        byte[] content = new byte[SIZE];
        try (BlockSource source = NbdBlockSource.open(uri, 1)) {
            source.readFully(0, ByteBuffer.wrap(content));
        }
        return content;
    }

    private static final class Recorder implements LiveMirror.Listener {
        final List<String> statuses = new CopyOnWriteArrayList<>();
        volatile long copied;
        volatile long total;

        @Override
        public void jobStatus(String status) {
            statuses.add(status);
        }

        @Override
        public void progress(long copiedBytes, long totalBytes) {
            assertThat(copiedBytes).isBetween(0L, totalBytes);
            copied = copiedBytes;
            total = totalBytes;
        }
    }

    /** Rate-limited so the writer has time to write during the copy. */
    private static LiveMirror.Options slow() {
        return new LiveMirror.Options(
                8L << 20,
                Duration.ofSeconds(30),
                Duration.ofSeconds(60),
                Duration.ofSeconds(60),
                Duration.ofMillis(50));
    }

    @Test
    void liveMirrorPivotsToTheDestinationWithEveryWriteMadeDuringTheCopy() throws Exception {
        byte[] model = new byte[SIZE];
        VdiView vdi = attachedVdi(model);
        NbdUri attachment = NbdUri.parse(vdi.attachment().target());
        Path destinationImage = qemuNbdExport("destination", SIZE);
        String destination = "nbd+unix:///?socket=" + dir.resolve("destination.sock");
        QemuMonitor monitor = lifecycle.vdiMonitor(sr, vdi.uuid()).orElseThrow();
        assertThat(monitor.socket()).exists();

        Recorder recorder = new Recorder();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger writesWhileCopying = new AtomicInteger();
        long seed = System.nanoTime();
        System.out.println("LiveMirrorIT writer seed " + seed);
        Thread writer = Thread.ofPlatform().start(() -> {
            Random random = new Random(seed);
            try (BlockSink sink = NbdBlockSink.open(attachment, 1)) {
                while (!stop.get()) {
                    byte[] data = new byte[BLOCK];
                    random.nextBytes(data);
                    int offset = random.nextInt(SIZE / BLOCK) * BLOCK;
                    boolean copying = recorder.statuses.contains("running") && !recorder.statuses.contains("ready");
                    sink.write(offset, ByteBuffer.wrap(data));
                    sink.flush();
                    System.arraycopy(data, 0, model, offset, BLOCK);
                    if (copying && recorder.copied < recorder.total) {
                        writesWhileCopying.incrementAndGet();
                    }
                    Thread.sleep(2);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        LiveMirror.Report report;
        try {
            report = new LiveMirror(lifecycle, sr, slow(), recorder, () -> false).run(vdi.uuid(), destination);
            // writes after the pivot must land on the destination too
            Thread.sleep(200);
        } finally {
            stop.set(true);
            writer.join();
        }
        System.out.println("LiveMirrorIT: " + report + ", " + writesWhileCopying.get() + " writes while copying");
        assertThat(writesWhileCopying.get()).as("writes while the job copied").isPositive();
        assertThat(recorder.statuses).contains("running", "ready", "concluded");
        assertThat(report.copiedBytes()).isGreaterThanOrEqualTo(report.virtualSize() / 4);
        assertThat(report.node()).startsWith("thinsr-mirror-");

        try (QmpClient client = QmpClient.connect(monitor.socket(), QmpClient.Options.DEFAULT)) {
            assertThat(client.execute("query-jobs", null)).as("job dismissed").isEmpty();
            JsonNode exports = client.execute("query-block-exports", null);
            assertThat(exports.get(0).path("node-name").asText()).isEqualTo(report.node());
        }
        assertThat(read(attachment)).as("the attachment reads the destination").isEqualTo(model);

        lifecycle.vdiDetach(sr, vdi.uuid());
        assertThat(monitor.socket()).as("monitor socket removed on detach").doesNotExist();
        assertThat(lifecycle.vdiMonitor(sr, vdi.uuid())).isEmpty();
        Path modelImage = dir.resolve("model.raw");
        Files.write(modelImage, model);
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", modelImage.toString(), destinationImage.toString());
    }

    @Test
    void refusalsAndFailuresLeaveTheVdiAttachedToItsIntactSource() throws Exception {
        byte[] model = new byte[SIZE];
        VdiView vdi = attachedVdi(model);
        NbdUri attachment = NbdUri.parse(vdi.attachment().target());
        LiveMirror mirror = new LiveMirror(lifecycle, sr, slow(), new Recorder(), () -> false);

        qemuNbdExport("small", SIZE - BLOCK);
        String small = "nbd+unix:///?socket=" + dir.resolve("small.sock");
        assertThatThrownBy(() -> mirror.run(vdi.uuid(), small))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NO_SPACE))
                .hasMessageContaining(small)
                .hasMessageContaining(Long.toString(SIZE - BLOCK))
                .hasMessageContaining(Long.toString(SIZE));

        assertThatThrownBy(() -> mirror.run(vdi.uuid(), "http://127.0.0.1:1/"))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE))
                .hasMessageContaining("http://127.0.0.1:1/")
                .hasMessageContaining("nbd://");

        MigrationTesting.require("nbdkit", "nbdkit");
        Path failing = dir.resolve("failing.sock");
        server(
                failing,
                "nbdkit",
                "-f",
                "--exit-with-parent",
                "-U",
                failing.toString(),
                "--filter=error",
                "memory",
                "size=" + SIZE,
                "error=EIO",
                "error-pwrite-rate=100%",
                "error-zero-rate=100%",
                "error-trim-rate=100%");
        Recorder recorder = new Recorder();
        assertThatThrownBy(() -> new LiveMirror(lifecycle, sr, slow(), recorder, () -> false)
                        .run(vdi.uuid(), "nbd+unix:///?socket=" + failing))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TOOL_FAILED))
                .hasMessageContaining(vdi.uuid())
                .hasMessageContaining("Input/output error")
                .hasMessageContaining("stays on its source");
        assertThat(recorder.statuses).contains("concluded");

        Path slowTarget = dir.resolve("cancelled.sock");
        qemuNbdExport("cancelled", SIZE);
        Recorder cancelledRecorder = new Recorder();
        assertThatThrownBy(() -> new LiveMirror(
                                lifecycle, sr, slow(), cancelledRecorder, () -> cancelledRecorder.copied > 0)
                        .run(vdi.uuid(), "nbd+unix:///?socket=" + slowTarget))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CANCELLED))
                .hasMessageContaining("cancelled");

        assertThat(lifecycle.vdiStat(sr, vdi.uuid()).attachment())
                .as("still attached")
                .isNotNull();
        QemuMonitor monitor = lifecycle.vdiMonitor(sr, vdi.uuid()).orElseThrow();
        try (QmpClient client = QmpClient.connect(monitor.socket(), QmpClient.Options.DEFAULT)) {
            assertThat(client.execute("query-jobs", null)).as("no job left").isEmpty();
            JsonNode nodes = client.execute("query-named-block-nodes", null);
            List<String> names = new ArrayList<>();
            nodes.forEach(node -> names.add(node.path("node-name").asText()));
            assertThat(names).as("no destination node left").noneMatch(name -> name.startsWith("thinsr-mirror-"));
            assertThat(client.execute("query-block-exports", null)
                            .get(0)
                            .path("node-name")
                            .asText())
                    .isEqualTo("disk");
        }
        assertThat(Arrays.equals(read(attachment), model)).as("source intact").isTrue();
        try (BlockSink sink = NbdBlockSink.open(attachment, 1)) {
            byte[] data = new byte[BLOCK];
            new Random(5).nextBytes(data);
            sink.write(BLOCK, ByteBuffer.wrap(data));
            sink.flush();
            System.arraycopy(data, 0, model, BLOCK, BLOCK);
        }
        assertThat(Arrays.equals(read(attachment), model))
                .as("source still writable")
                .isTrue();

        lifecycle.vdiDetach(sr, vdi.uuid());
        assertThatThrownBy(() -> mirror.run(vdi.uuid(), small))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE))
                .hasMessageContaining("not attached");
    }
}
