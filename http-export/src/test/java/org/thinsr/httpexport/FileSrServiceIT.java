package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.lifecycle.CommandRunner;
import org.thinsr.lifecycle.FileBackend;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.ThinsrHome;
import org.thinsr.lifecycle.UriSchemes;
import org.thinsr.qmpclient.NbdBlockSink;

/**
 * {@code thinsr serve} on a real file SR (qcow2 files, qemu-img, qemu-storage-daemon, NBD) against
 * real clients: curl uploads and downloads in every format, qemu-img reads our VHD, interrupted
 * and corrupt uploads leave the VDI as it was.
 */
class FileSrServiceIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SIZE = 12 << 20;

    @TempDir
    Path dir;

    private Lifecycle lifecycle;
    private Optional<SrRef> sr;
    private ThinsrServer server;
    private LifecycleDiskStore store;
    private String curl;
    private String qemuImg;
    private Path source;

    @BeforeEach
    void start() throws IOException {
        curl = Tools.require("curl", "curl").toString();
        qemuImg = Tools.require("qemu-img", "qemu-utils").toString();
        Tools.require("qemu-storage-daemon", "qemu-system-common");
        FileBackend backend = new FileBackend(CommandRunner.PROCESSES, dir.resolve("run"));
        lifecycle = new Lifecycle(
                kind -> backend,
                UriSchemes.standard(List.of(), Map.of(), Optional.empty()),
                new ThinsrHome(dir.resolve("home")),
                CommandRunner.PROCESSES,
                Duration.ofSeconds(60),
                Clock.systemUTC());
        sr = Optional.of(SrRef.file(dir.resolve("sr")));
        lifecycle.srCreate(sr.get(), Optional.empty(), "test", "");
        store = new LifecycleDiskStore(lifecycle, sr);
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store, StandardFormats.all(), line -> {});
        source = dir.resolve("source.raw");
        byte[] bytes = new byte[SIZE];
        Random random = new Random(5);
        for (int mib = 0; mib < SIZE >> 20; mib += 3) {
            byte[] data = new byte[300_000];
            random.nextBytes(data);
            System.arraycopy(data, 0, bytes, mib << 20, data.length);
        }
        bytes[SIZE - 1] = 42;
        Files.write(source, bytes);
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
        store.close();
        assertThat(lifecycle.vdiList(sr))
                .allSatisfy(
                        vdi -> assertThat(vdi.attachment()).as("left attached").isNull());
    }

    private String url(String path) {
        return server.uri().resolve(path).toString();
    }

    private String createVdi(String name) throws Exception {
        Tools.Result created = Tools.check(List.of(
                curl,
                "-sSf",
                "-X",
                "POST",
                "-d",
                "{\"name_label\":\"" + name + "\",\"virtual_size\":" + SIZE + "}",
                url("/vdis")));
        return JSON.readTree(created.stdout()).get("id").asText();
    }

    private void assertContent(String vdi, Path expected) throws Exception {
        Path out = dir.resolve("check-" + System.nanoTime() + ".raw");
        Tools.check(List.of(curl, "-sSf", "-o", out.toString(), url("/vdis/" + vdi + "?format=raw")));
        assertThat(Files.mismatch(out, expected)).as("first differing byte").isEqualTo(-1L);
    }

    @Test
    void rawUploadThenDownloadInEveryFormatReadsBackIdentical() throws Exception {
        String vdi = createVdi("disk one");
        Tools.check(List.of(curl, "-sSf", "-T", source.toString(), url("/vdis/" + vdi + "?format=raw")));
        assertContent(vdi, source);

        Path vhd = dir.resolve("out.vhd");
        Tools.check(List.of(curl, "-sSf", "-o", vhd.toString(), url("/vdis/" + vdi + "?format=vhd")));
        Tools.Result compare = Tools.run(
                List.of(qemuImg, "compare", "-f", "vpc", "-F", "raw", vhd.toString(), source.toString()), null);
        assertThat(compare.status()).as(compare.stdout() + compare.stderr()).isZero();
        Tools.Result info = Tools.check(List.of(qemuImg, "info", "--output=json", "-f", "vpc", vhd.toString()));
        assertThat(JSON.readTree(info.stdout()).get("virtual-size").asLong()).isEqualTo(SIZE);

        Path tar = dir.resolve("out.tar");
        Tools.check(List.of(curl, "-sSf", "-o", tar.toString(), url("/vdis/" + vdi + "?format=tar")));
        String second = createVdi("disk two");
        Tools.check(List.of(curl, "-sSf", "-T", tar.toString(), url("/vdis/" + second + "?format=tar")));
        assertContent(second, source);

        String third = createVdi("disk three");
        Tools.check(List.of(curl, "-sSf", "-T", vhd.toString(), url("/vdis/" + third + "?format=vhd")));
        assertContent(third, source);
    }

    @Test
    void vhdRangesConcatenateToTheWholeVhd() throws Exception {
        String vdi = createVdi("ranges");
        Tools.check(List.of(curl, "-sSf", "-T", source.toString(), url("/vdis/" + vdi + "?format=raw")));
        Path whole = dir.resolve("whole.vhd");
        Tools.check(List.of(curl, "-sSf", "-o", whole.toString(), url("/vdis/" + vdi + "?format=vhd")));
        long length = Files.size(whole);
        Path first = dir.resolve("a");
        Path rest = dir.resolve("b");
        long cut = length / 3 + 777;
        Tools.check(List.of(
                curl, "-sSf", "-r", "0-" + (cut - 1), "-o", first.toString(), url("/vdis/" + vdi + "?format=vhd")));
        Tools.check(List.of(curl, "-sSf", "-r", cut + "-", "-o", rest.toString(), url("/vdis/" + vdi + "?format=vhd")));
        byte[] joined = new byte[(int) length];
        byte[] a = Files.readAllBytes(first);
        byte[] b = Files.readAllBytes(rest);
        System.arraycopy(a, 0, joined, 0, a.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        assertThat(joined).isEqualTo(Files.readAllBytes(whole));
    }

    @Test
    void truncatedAndCorruptUploadsLeaveTheVdiAsItWas() throws Exception {
        String vdi = createVdi("precious");
        Tools.check(List.of(curl, "-sSf", "-T", source.toString(), url("/vdis/" + vdi + "?format=raw")));

        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT /vdis/" + vdi + "?format=raw HTTP/1.1\r\nHost: x\r\nContent-Length: " + SIZE + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[SIZE / 3]);
            out.flush();
        }
        awaitNoRunningTask();
        assertContent(vdi, source);

        Path vhd = dir.resolve("good.vhd");
        Tools.check(List.of(curl, "-sSf", "-o", vhd.toString(), url("/vdis/" + vdi + "?format=vhd")));
        byte[] corrupt = Files.readAllBytes(vhd);
        corrupt[corrupt.length - 512 + 64] ^= 0x55; // trailing footer checksum
        corrupt[64] ^= 0x55; // and the copy at offset 0
        Path bad = dir.resolve("bad.vhd");
        Files.write(bad, corrupt);
        Tools.Result result = Tools.run(
                List.of(
                        curl,
                        "-sS",
                        "-o",
                        "/dev/stderr",
                        "-w",
                        "%{http_code}",
                        "-T",
                        bad.toString(),
                        url("/vdis/" + vdi + "?format=vhd")),
                null);
        assertThat(result.stdout()).isEqualTo("400");
        assertThat(result.stderr()).contains("CORRUPT_IMAGE");
        assertContent(vdi, source);
        JsonNode list =
                JSON.readTree(Tools.check(List.of(curl, "-sSf", url("/vdis"))).stdout());
        assertThat(list).hasSize(1);
        assertThat(lifecycle.vdiList(sr)).as("no staging VDI left behind").hasSize(1);
    }

    @Test
    void xapiChunkedUploadIsAccepted() throws Exception {
        String vdi = createVdi("xapi");
        byte[] bytes = Files.readAllBytes(source);
        Path framed = dir.resolve("framed");
        try (OutputStream out = Files.newOutputStream(framed)) {
            for (int offset = SIZE - (1 << 20); offset >= 0; offset -= 1 << 20) { // reverse order on purpose
                ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
                header.putLong(offset).putInt(1 << 20);
                out.write(header.array());
                out.write(bytes, offset, 1 << 20);
            }
            out.write(new byte[12]);
        }
        Tools.check(List.of(
                curl, "-sSf", "-b", "chunked=true", "-T", framed.toString(), url("/import_raw_vdi?vdi=" + vdi)));
        awaitNoRunningTask();
        assertContent(vdi, source);
    }

    @Test
    void xapiChunkedUploadKeepsTheBytesItDoesNotCarry() throws Exception {
        String vdi = createVdi("incremental");
        Tools.check(List.of(curl, "-sSf", "-T", source.toString(), url("/vdis/" + vdi + "?format=raw")));
        byte[] expected = Files.readAllBytes(source);
        byte[] patch = new byte[4096];
        new java.util.Random(5).nextBytes(patch);
        System.arraycopy(patch, 0, expected, 1 << 20, patch.length);
        Path framed = dir.resolve("incremental");
        try (OutputStream out = Files.newOutputStream(framed)) {
            ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            header.putLong(1 << 20).putInt(patch.length);
            out.write(header.array());
            out.write(patch);
            out.write(new byte[12]);
        }
        Tools.check(List.of(
                curl, "-sSf", "-b", "chunked=true", "-T", framed.toString(), url("/import_raw_vdi?vdi=" + vdi)));
        awaitNoRunningTask();
        Path expectedFile = dir.resolve("expected");
        Files.write(expectedFile, expected);
        assertContent(vdi, expectedFile);
        assertThat(lifecycle.vdiList(sr)).as("no staging VDI left behind").hasSize(1);
    }

    @Test
    void nbdTunnelWritesTheVdiThroughItsDaemonAndReleasesItOnClose() throws Exception {
        assertThat(SpliceRelay.available())
                .as("splice relay (native access and --add-exports java.base/sun.nio.ch in this JVM)")
                .isTrue();
        writeThroughTunnelAndRelease("tunnelled");
        assertThat(Tools.check(List.of(curl, "-sSf", url("/metrics"))).stdout())
                .contains("thinsr_nbd_tunnels_total{relay=\"splice\"} 1")
                .doesNotContain("relay=\"copy\"");
    }

    @Test
    void nbdTunnelCopiesThroughTheJvmWhenToldTo() throws Exception {
        System.setProperty(NbdTunnel.RELAY_PROPERTY, "copy");
        try {
            writeThroughTunnelAndRelease("copied");
        } finally {
            System.clearProperty(NbdTunnel.RELAY_PROPERTY);
        }
        assertThat(Tools.check(List.of(curl, "-sSf", url("/metrics"))).stdout())
                .contains("thinsr_nbd_tunnels_total{relay=\"copy\"} 1")
                .doesNotContain("relay=\"splice\"");
    }

    private void writeThroughTunnelAndRelease(String name) throws Exception {
        String vdi = createVdi(name);
        HttpDiskClient client = new HttpDiskClient(server.uri(), Optional.empty());
        byte[] bytes = Files.readAllBytes(source);
        try (NbdBlockSink sink = client.nbdSink(vdi).orElseThrow()) {
            assertThat(sink.size()).isEqualTo(SIZE);
            for (int offset = SIZE - (1 << 20); offset >= 0; offset -= 1 << 20) { // backwards, 1 MiB each
                sink.write(offset, ByteBuffer.wrap(bytes, offset, 1 << 20));
            }
            sink.writeZeroes(0, 4096); // zeros over data: the source's first 4 KiB become zero
            sink.write(0, ByteBuffer.wrap(bytes, 0, 4096)); // and back
            sink.flush();
        }
        assertContent(vdi, source);
        // released with the tunnel: detached once the store's linger after the last user is over
        assertReleased(vdi, "attachment after the tunnel closed");
    }

    @Test
    void nbdTunnelRefusesWhatItMustAndSurvivesGarbage() throws Exception {
        String vdi = createVdi("guarded");
        HttpDiskClient client = new HttpDiskClient(server.uri(), Optional.empty());
        Tools.Result noUpgrade = Tools.run(
                List.of(curl, "-sS", "-X", "POST", "-w", "\n%{http_code}", url("/vdis/" + vdi + "/nbd")), null);
        assertThat(noUpgrade.stdout())
                .contains("Upgrade: actual none, expected 'nbd'")
                .endsWith("400");
        Tools.Result get = Tools.run(List.of(curl, "-sS", "-w", "\n%{http_code}", url("/vdis/" + vdi + "/nbd")), null);
        assertThat(get.stdout()).contains("GET is not allowed").endsWith("501");
        String snapshot = lifecycle.vdiSnapshot(sr, vdi).uuid();
        assertThatThrownBy(() -> client.nbdSink(snapshot))
                .isInstanceOf(ThinsrException.class)
                .hasMessageContaining("409")
                .hasMessageContaining("read-only");

        // bytes that are not NBD after the upgrade: the daemon hangs up, the tunnel closes, the server goes on
        try (java.nio.channels.SocketChannel raw = java.nio.channels.SocketChannel.open(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), server.port()))) {
            raw.write(ByteBuffer.wrap(("POST /vdis/" + vdi + "/nbd HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                            + "Upgrade: nbd\r\nContent-Length: 0\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            raw.socket().setSoTimeout(30_000);
            java.io.InputStream in = raw.socket().getInputStream();
            byte[] head = new byte[12];
            assertThat(in.readNBytes(head, 0, 12)).isEqualTo(12);
            assertThat(new String(head, StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 101");
            raw.write(ByteBuffer.wrap(new byte[64 << 10])); // zeros: a wrong NBD handshake reply
            byte[] rest = in.readAllBytes(); // ends when the tunnel closes
            assertThat(rest.length)
                    .as("the 101's head, the daemon's greeting, then the end")
                    .isLessThan(4096);
        }
        try (NbdBlockSink sink = client.nbdSink(vdi).orElseThrow()) {
            sink.write(SIZE - 1, ByteBuffer.wrap(new byte[] {42}));
            sink.flush();
        }
        Path expected = dir.resolve("last-byte.raw");
        byte[] last = new byte[SIZE];
        last[SIZE - 1] = 42;
        Files.write(expected, last);
        assertContent(vdi, expected);
    }

    @Test
    void clientsThatHangUpRightAfterAskingForATunnelLeaveTheVdiReleased() throws Exception {
        String vdi = createVdi("abandoned");
        for (int i = 0; i < 20; i++) { // each hang-up races the 101: some before it is sent, some after
            try (java.nio.channels.SocketChannel raw = java.nio.channels.SocketChannel.open(
                    new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), server.port()))) {
                raw.setOption(java.net.StandardSocketOptions.SO_LINGER, 0); // close sends a reset
                raw.write(ByteBuffer.wrap(("POST /vdis/" + vdi + "/nbd HTTP/1.1\r\nHost: x\r\n"
                                + "Connection: Upgrade\r\nUpgrade: nbd\r\nContent-Length: 0\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII)));
                if (i % 2 == 1) {
                    Thread.sleep(i); // later and later
                }
            }
        }
        assertReleased(vdi, "attachment after every client hung up");
        // and the VDI takes a tunnel again
        HttpDiskClient client = new HttpDiskClient(server.uri(), Optional.empty());
        try (NbdBlockSink sink = client.nbdSink(vdi).orElseThrow()) {
            sink.write(0, ByteBuffer.wrap(new byte[] {1}));
            sink.flush();
        }
    }

    /** Waits for the VDI to be detached: once the store's linger after its last user is over. */
    private void assertReleased(String vdi, String what) throws Exception {
        long deadline = System.nanoTime()
                + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(LifecycleDiskStore.LINGER_MILLIS + 20_000);
        while (lifecycle.vdiStat(sr, vdi).attachment() != null && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(lifecycle.vdiStat(sr, vdi).attachment()).as(what).isNull();
    }

    private void awaitNoRunningTask() throws Exception {
        for (int i = 0; i < 400; i++) {
            JsonNode tasks = JSON.readTree(
                    Tools.check(List.of(curl, "-sSf", url("/tasks"))).stdout());
            boolean running = false;
            for (JsonNode task : tasks) {
                running |= task.get("status").asText().equals("running");
            }
            if (!running) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("a task is still running");
    }
}
