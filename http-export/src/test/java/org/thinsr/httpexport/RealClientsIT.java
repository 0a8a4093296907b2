package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service against real HTTP clients: curl and qemu-img's curl driver. */
class RealClientsIT {
    private static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    private final MemoryDiskStore store = new MemoryDiskStore();
    private ThinsrServer server;
    private byte[] disk;
    private String curl;

    @BeforeEach
    void start() throws IOException {
        curl = Tools.require("curl", "curl").toString();
        disk = new byte[SIZE];
        Random random = new Random(1);
        for (int block = 0; block < SIZE / 65536; block += 3) {
            byte[] data = new byte[65536];
            random.nextBytes(data);
            System.arraycopy(data, 0, disk, block * 65536, data.length);
        }
        store.put("disk1", disk.clone());
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store, Formats.raw(), line -> {});
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    private String url(String path) {
        return server.uri().resolve(path).toString();
    }

    @Test
    void curlDownloadsTheWholeDisk() throws Exception {
        Path out = dir.resolve("out.raw");
        Tools.check(List.of(curl, "-sSf", "-o", out.toString(), url("/vdis/disk1?format=raw")));
        assertThat(Files.readAllBytes(out)).isEqualTo(disk);
    }

    @Test
    void curlRangeGetsExactlyThoseBytes() throws Exception {
        Path out = dir.resolve("part");
        Tools.Result result = Tools.check(List.of(
                curl, "-sSf", "-r", "65000-200000", "-o", out.toString(), "-w", "%{http_code}", url("/vdis/disk1")));
        assertThat(result.stdout()).isEqualTo("206");
        assertThat(Files.readAllBytes(out)).isEqualTo(Arrays.copyOfRange(disk, 65000, 200001));
    }

    @Test
    void curlUploadsWithContentLengthAndWithChunkedEncoding() throws Exception {
        byte[] upload = new byte[SIZE];
        new Random(2).nextBytes(upload);
        Path file = dir.resolve("upload.raw");
        Files.write(file, upload);
        Tools.check(List.of(curl, "-sSf", "-T", file.toString(), url("/vdis/disk1?format=raw")));
        assertThat(store.content("disk1")).isEqualTo(upload);

        byte[] second = new byte[SIZE];
        second[SIZE - 1] = 1;
        Path secondFile = dir.resolve("second.raw");
        Files.write(secondFile, second);
        // -T - reads stdin: curl sends Transfer-Encoding: chunked
        Tools.Result chunked =
                Tools.run(List.of(curl, "-sSf", "-T", "-", "-H", "Expect:", url("/vdis/disk1?format=raw")), secondFile);
        assertThat(chunked.status()).as(chunked.stderr()).isZero();
        assertThat(store.content("disk1")).isEqualTo(second);
    }

    @Test
    void xapiStyleChunkedCookieUploadIsRefusedUntilTheFramingIsRegistered() throws Exception {
        Path file = dir.resolve("upload.raw");
        Files.write(file, new byte[4096]);
        Tools.Result result = Tools.run(
                List.of(
                        curl,
                        "-sS",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        "-T",
                        file.toString(),
                        "-b",
                        "chunked=true",
                        url("/vdis/disk1")),
                null);
        assertThat(result.stdout()).isEqualTo("501");
        assertThat(store.content("disk1")).isEqualTo(disk);
    }

    @Test
    void qemuImgReadsTheDiskThroughItsCurlDriver() throws Exception {
        String qemuImg = Tools.require("qemu-img", "qemu-utils").toString();
        Path out = dir.resolve("qemu.raw");
        Tools.Result result = Tools.run(
                List.of(qemuImg, "convert", "-f", "raw", "-O", "raw", url("/vdis/disk1?format=raw"), out.toString()),
                null);
        assertThat(result.status())
                .as("qemu-img convert from http (needs Debian package qemu-block-extra): " + result.stderr())
                .isZero();
        assertThat(Files.readAllBytes(out)).isEqualTo(disk);
    }

    @Test
    void thirtyTwoConcurrentDownloadsAllCompleteCorrectly() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(32);
        try {
            List<Future<Tools.Result>> results = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                Path out = dir.resolve("c" + i);
                results.add(pool.submit(() ->
                        Tools.run(List.of(curl, "-sSf", "-o", out.toString(), url("/vdis/disk1?format=raw")), null)));
            }
            for (int i = 0; i < 32; i++) {
                assertThat(results.get(i).get().status()).isZero();
                assertThat(Files.readAllBytes(dir.resolve("c" + i))).isEqualTo(disk);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
