package org.thinsr.migrate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;
import org.thinsr.vhdstream.ChunkedDecoder;

class XapiImportDestinationTest {
    private static final SparseCopier.Listener QUIET = (sent, zeroed, totalData, totalZeros) -> {};

    private static MemoryDisk randomDisk(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return new MemoryDisk(bytes);
    }

    private static ChunkedPassBody body(CopyPlan plan, BlockSource source, int maxChunk, int window)
            throws IOException {
        return new ChunkedPassBody(plan, source, maxChunk, window, BandwidthLimiter.unlimited(), QUIET, () -> false);
    }

    private static void chunk(ByteArrayOutputStream out, long offset, byte[] data) {
        ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(offset).putInt(data.length);
        out.writeBytes(header.array());
        out.writeBytes(data);
    }

    @Test
    void bodyIsAscendingChunksOfDataAndZeroRunsThenTheTerminatorWithAnExactLength() throws IOException {
        MemoryDisk disk = randomDisk(64, 1);
        disk.forbiddenReads = ExtentSet.of(10, 14); // a zero run is never read
        CopyPlan plan = new CopyPlan(
                64,
                ExtentSet.of(4, 10).union(ExtentSet.of(20, 21)),
                ExtentSet.of(10, 14).union(ExtentSet.of(40, 41)));
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        chunk(expected, 4, Arrays.copyOfRange(disk.bytes, 4, 8));
        chunk(expected, 8, Arrays.copyOfRange(disk.bytes, 8, 10));
        chunk(expected, 10, new byte[4]);
        chunk(expected, 20, Arrays.copyOfRange(disk.bytes, 20, 21));
        chunk(expected, 40, new byte[1]);
        expected.writeBytes(new byte[12]);

        for (int window : new int[] {12, 13, 16, 1 << 20}) {
            List<long[]> events = new ArrayList<>();
            ChunkedPassBody body = new ChunkedPassBody(
                    plan,
                    disk.source(),
                    4,
                    window,
                    BandwidthLimiter.unlimited(),
                    (sent, zeroed, totalData, totalZeros) ->
                            events.add(new long[] {sent, zeroed, totalData, totalZeros}),
                    () -> false);
            // 12 + length per chunk (5 chunks, 12 payload bytes) + the 12-byte terminator
            assertThat(body.length()).isEqualTo(5 * 12 + 12 + 12).isEqualTo(expected.size());
            byte[] read = body.readAllBytes();
            assertThat(read).as("window %s", window).isEqualTo(expected.toByteArray());
            assertThat(body.position()).isEqualTo(body.length());
            assertThat(body.sentBytes()).isEqualTo(7);
            assertThat(body.zeroedBytes()).isEqualTo(5);
            assertThat(events.getLast()).containsExactly(7, 5, 7, 5);
            assertThat(events)
                    .allSatisfy(event -> assertThat(event[0] + event[1]).isPositive());
            assertThat(body.read()).isEqualTo(-1);
        }
    }

    @Test
    void bodyRoundTripsThroughTheChunkedDecoderOneByteAtATime() throws IOException {
        int size = 3 << 20;
        MemoryDisk disk = randomDisk(size, 2);
        ExtentSet data =
                ExtentSet.of(0, 5).union(ExtentSet.of(100_000, 1_300_000)).union(ExtentSet.of(size - 1, size));
        ExtentSet zeros = ExtentSet.of(5, 4096).union(ExtentSet.of(2_000_000, 2_600_000));
        for (int index = 0; index < zeros.size(); index++) {
            Arrays.fill(disk.bytes, (int) zeros.start(index), (int) zeros.end(index), (byte) 0);
        }
        ChunkedPassBody body = body(new CopyPlan(size, data, zeros), disk.source(), 1 << 18, 100_000);
        long chunks = 0;
        for (ExtentSet set : List.of(data, zeros)) {
            for (int index = 0; index < set.size(); index++) {
                chunks += (set.end(index) - set.start(index) + (1 << 18) - 1) >> 18;
            }
        }
        assertThat(body.length()).isEqualTo(data.totalLength() + zeros.totalLength() + 12 * chunks + 12);

        byte[] garbage = new byte[size];
        Arrays.fill(garbage, (byte) 0x5a);
        MemoryDisk target = new MemoryDisk(garbage);
        InputStream oneByteAtATime = new InputStream() {
            @Override
            public int read() throws IOException {
                return body.read();
            }

            @Override
            public int read(byte[] bytes, int offset, int length) throws IOException {
                return body.read(bytes, offset, Math.min(length, 1));
            }
        };
        assertThat(new ChunkedDecoder().decode(oneByteAtATime, target.sink())).isEqualTo(size);
        for (int i = 0; i < size; i++) {
            byte expected = data.contains(i) ? disk.bytes[i] : zeros.contains(i) ? 0 : (byte) 0x5a;
            if (target.bytes[i] != expected) {
                throw new AssertionError("byte " + i + ": actual " + target.bytes[i] + ", expected " + expected);
            }
        }
        assertThat(body.sentBytes()).isEqualTo(data.totalLength());
        assertThat(body.zeroedBytes()).isEqualTo(zeros.totalLength());
    }

    @Test
    void emptyPassIsTheTerminatorAlone() throws IOException {
        ChunkedPassBody body = body(
                new CopyPlan(64, ExtentSet.empty(), ExtentSet.empty()),
                randomDisk(64, 3).source(),
                4,
                16);
        assertThat(body.length()).isEqualTo(12);
        assertThat(body.readAllBytes()).containsOnly(0).hasSize(12);
    }

    @Test
    void shortSourceReadAndCancellationFailTheBodyAndAreKept() throws IOException {
        BlockSource shortSource = new BlockSource() {
            @Override
            public long size() {
                return 64;
            }

            @Override
            public void readFully(long offset, ByteBuffer buffer) throws IOException {
                throw new EOFException("source ended at 32, read at " + offset);
            }

            @Override
            public void close() {}
        };
        ChunkedPassBody failing = body(new CopyPlan(64, ExtentSet.of(40, 50), ExtentSet.empty()), shortSource, 4, 16);
        assertThatThrownBy(failing::readAllBytes)
                .isInstanceOf(EOFException.class)
                .hasMessage("source ended at 32, read at 40");
        assertThat(failing.failure()).isInstanceOf(EOFException.class);

        ChunkedPassBody cancelled = new ChunkedPassBody(
                new CopyPlan(64, ExtentSet.of(0, 8), ExtentSet.empty()),
                randomDisk(64, 4).source(),
                4,
                16,
                BandwidthLimiter.unlimited(),
                QUIET,
                () -> true);
        assertThatThrownBy(cancelled::read).isInstanceOfSatisfying(ThinsrException.class, e -> assertThat(e.code())
                .isEqualTo(ErrorCode.CANCELLED));
        assertThat(cancelled.failure()).isInstanceOf(ThinsrException.class);
    }

    @Test
    void urlNeedsAnExistingVdiAndRawFormat() {
        assertThat(XapiImportDestination.accepts(URI.create("http://h/import_raw_vdi?vdi=x")))
                .isTrue();
        assertThat(XapiImportDestination.accepts(URI.create("https://h:443/import_raw_vdi")))
                .isTrue();
        assertThat(XapiImportDestination.accepts(URI.create("http://h:8080/"))).isFalse();
        assertThat(XapiImportDestination.accepts(URI.create("nbd://h/import_raw_vdi")))
                .isFalse();
        assertThatThrownBy(() -> new XapiImportDestination(
                        URI.create("http://h/import_raw_vdi?session_id=OpaqueRef:secret&sr_id=OpaqueRef:sr"),
                        Optional.empty()))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE))
                .hasMessageStartingWith(
                        "--to: actual 'http://h/import_raw_vdi?session_id=…&sr_id=OpaqueRef:sr': missing vdi=")
                .hasMessageNotContaining("secret");
        assertThatThrownBy(() -> new XapiImportDestination(
                        URI.create("http://h/import_raw_vdi?vdi=abc&format=vhd"), Optional.empty()))
                .hasMessage("--to: actual 'http://h/import_raw_vdi?vdi=abc&format=vhd': format=vhd: the chunked"
                        + " framing carries raw data only (format=raw)");
        assertThatThrownBy(() -> new XapiImportDestination(
                        URI.create("http://root:pw@h/import_raw_vdi?vdi=abc"), Optional.of("token")))
                .hasMessageContaining("give one")
                .hasMessageNotContaining("pw");
    }

    @Test
    void credentialsLeaveTheUrlAndTheSessionIsHiddenInMessages() {
        try (XapiImportDestination destination = new XapiImportDestination(
                URI.create("https://root:p%40ss@xs1:443/import_raw_vdi?session_id=OpaqueRef:s&vdi=OpaqueRef:v&chunked"),
                Optional.empty())) {
            assertThat(destination.target())
                    .isEqualTo(URI.create(
                            "https://xs1:443/import_raw_vdi?session_id=OpaqueRef:s&vdi=OpaqueRef:v&chunked"));
            assertThat(destination.describe())
                    .isEqualTo("https://xs1:443/import_raw_vdi?session_id=…&vdi=OpaqueRef:v&chunked");
            assertThat(destination.vdi()).isEqualTo("OpaqueRef:v");
            assertThat(destination.prepare("web", 1 << 20)).isEqualTo("OpaqueRef:v");
        }
    }

    @Test
    void verifyAndKeepPartialAreRefusedBeforeAnythingIsSent() {
        try (XapiImportDestination destination =
                new XapiImportDestination(URI.create("http://h/import_raw_vdi?vdi=v"), Optional.empty())) {
            SparseCopier.Options copy = SparseCopier.Options.defaults();
            assertThatThrownBy(() -> destination.checkOptions(
                            new Migration.Options(copy, 0, 1, true, 1 << 20, false, Path.of("state"))))
                    .isInstanceOfSatisfying(
                            ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.USAGE))
                    .hasMessageStartingWith("--verify: xapi /import_raw_vdi has no checksum endpoint");
            assertThatThrownBy(() -> destination.checkOptions(
                            new Migration.Options(copy, 0, 1, false, 1 << 20, true, Path.of("state"))))
                    .hasMessageStartingWith(
                            "--keep-partial/--resume: a chunked PUT to xapi /import_raw_vdi cannot be" + " resumed");
            destination.checkOptions(new Migration.Options(copy, 0, 1, false, 1 << 20, false, Path.of("state")));
        }
    }
}
