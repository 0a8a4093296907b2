package org.thinsr.httpexport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockChecksums;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

class HttpDiskClientTest {
    private static final int SIZE = 2 << 20;

    private final MemoryDiskStore store = new MemoryDiskStore();
    private ThinsrServer server;
    private HttpDiskClient client;
    private byte[] disk;

    @BeforeEach
    void start() throws IOException {
        disk = new byte[SIZE];
        byte[] data = new byte[20_000];
        new Random(3).nextBytes(data);
        System.arraycopy(data, 0, disk, 70_000, data.length);
        store.put("disk1", disk.clone());
        server = ThinsrServer.start(
                ServerConfig.defaults().withListen("127.0.0.1", 0), store, Formats.raw(), line -> {});
        client = new HttpDiskClient(server.uri(), Optional.empty());
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    @Test
    void mapAndReadsMatchTheServersDisk() throws Exception {
        assertThat(client.find("disk1").virtualSize()).isEqualTo(SIZE);
        AllocationMap map = client.allocationMap("disk1", SIZE);
        assertThat(map).isEqualTo(AllocationMap.ofData(SIZE, MemoryDiskStore.nonZeroBlocks(disk)));
        ByteBuffer buffer = ByteBuffer.allocate(30_000);
        client.source("disk1", SIZE).readFully(65_000, buffer);
        assertThat(buffer.array()).isEqualTo(Arrays.copyOfRange(disk, 65_000, 95_000));
    }

    @Test
    void sinkWritesZeroesAndFlushes() throws Exception {
        BlockSink sink = client.sink("disk1", SIZE);
        sink.write(SIZE - 3, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        sink.writeZeroes(65_536, 65_536);
        sink.flush();
        byte[] expected = disk.clone();
        expected[SIZE - 3] = 1;
        expected[SIZE - 2] = 2;
        expected[SIZE - 1] = 3;
        Arrays.fill(expected, 65_536, 131_072, (byte) 0);
        assertThat(store.content("disk1")).isEqualTo(expected);
    }

    @Test
    void nbdTunnelOfAStoreWithoutNbdDaemonsIsAbsentSoTheClientWritesWithPuts() throws Exception {
        assertThat(client.nbdSink("disk1"))
                .as("501 UNSUPPORTED: no daemon serves this store's disks")
                .isEmpty();
        assertThatThrownBy(() -> client.nbdSink("no-such-disk"))
                .isInstanceOf(ThinsrException.class)
                .hasMessageContaining("404");
        HttpDiskClient tls = new HttpDiskClient(URI.create("https://127.0.0.1:1/"), Optional.empty());
        assertThat(tls.nbdSink("disk1")).as("https: no tunnel (yet)").isEmpty();
    }

    @Test
    void checksumsEqualTheLocalComputation() throws Exception {
        List<String> remote = client.checksums("disk1", 65_536, SIZE);
        String[] local = BlockChecksums.compute(
                new MemoryDiskStore.ArraySource(disk),
                AllocationMap.ofData(SIZE, MemoryDiskStore.nonZeroBlocks(disk)),
                65_536,
                0,
                SIZE);
        assertThat(remote).containsExactly(local);
    }

    @Test
    void uploadAndDownloadRoundTrip() throws Exception {
        byte[] upload = new byte[SIZE];
        new Random(4).nextBytes(upload);
        client.upload("disk1", "raw", new ByteArrayInputStream(upload), SIZE);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(client.download("disk1", "raw", Optional.empty(), out)).isEqualTo(SIZE);
        assertThat(out.toByteArray()).isEqualTo(upload);
    }

    @Test
    void deleteRemovesTheVdiOnce() throws Exception {
        assertThat(client.delete("disk1")).isTrue();
        assertThat(client.delete("disk1")).isFalse();
        assertThat(store.list()).isEmpty();
    }

    @Test
    void serverErrorsKeepTheirCode() {
        assertThatThrownBy(() -> client.download("nope", "raw", Optional.empty(), new ByteArrayOutputStream()))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.VDI_NOT_FOUND));
        assertThatThrownBy(() -> client.find("nope"))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.VDI_NOT_FOUND));
    }
}
