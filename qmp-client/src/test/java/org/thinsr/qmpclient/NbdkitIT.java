package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.State;

/** Our NBD client against nbdkit 1.32: huge maps, injected errors, writes, multi-conn. */
class NbdkitIT {
    static final long MiB = 1024 * 1024;
    static Path directory;

    @BeforeAll
    static void tools() throws IOException {
        Tools.require("nbdkit", "nbdkit");
        Tools.require("nbdinfo", "libnbd-bin");
        directory = Tools.workDirectory("NbdkitIT");
    }

    static Tools.Server nbdkit(String name, String... pluginAndArguments) throws IOException {
        Path socket = directory.resolve(name + ".sock");
        List<String> command = new java.util.ArrayList<>(List.of("nbdkit", "-f", "-U", socket.toString()));
        command.addAll(List.of(pluginAndArguments));
        return Tools.Server.start(socket, directory.resolve(name + ".log"), command.toArray(String[]::new));
    }

    static JsonNode nbdinfoJson(NbdUri uri) throws IOException {
        return QmpClient.JSON
                .readTree(Tools.run("nbdinfo", "--json", uri.toString()))
                .path("exports")
                .get(0);
    }

    /** nbdkit's pattern plugin: every 8-byte word holds its own offset, big-endian. */
    static byte[] pattern(long offset, int length) {
        ByteBuffer expected = ByteBuffer.allocate(length + 16);
        long word = offset & ~7L;
        while (expected.position() < expected.capacity() - 8) {
            expected.putLong(word);
            word += 8;
        }
        int skip = (int) (offset - (offset & ~7L));
        return Arrays.copyOfRange(expected.array(), skip, skip + length);
    }

    @Test
    void mapOfMoreThanAMillionExtentsEqualsNbdinfo() throws Exception {
        try (Tools.Server server = nbdkit("sparse", "sparse-random", "4G", "percent=50", "runlength=4096");
                NbdConnection connection = NbdConnection.connect(
                        server.uri(""), List.of(QemuAllocation.BASE_ALLOCATION), NbdConnection.Options.DEFAULT)) {
            StatusRuns ours =
                    QemuAllocation.statusRuns(connection, 0, connection.size()).get(QemuAllocation.BASE_ALLOCATION);
            StatusRuns nbdinfo = Tools.parseNbdinfoMap(
                    QemuAllocation.BASE_ALLOCATION,
                    Tools.run(
                            Duration.ofMinutes(2),
                            "nbdinfo",
                            "--map",
                            server.uri("").toString()));
            assertThat(nbdinfo.count()).isGreaterThanOrEqualTo(1_000_000);
            assertThat(ours).isEqualTo(nbdinfo);
            AllocationMap map = QemuAllocation.fromBase(ours);
            assertThat(map.runCount()).isEqualTo(ours.count());
        }
    }

    @Test
    void injectedReadErrorsSurfaceAsTypedExceptionsAndNeverAsWrongData() throws Exception {
        try (Tools.Server server =
                        nbdkit("errors", "--filter=error", "pattern", "64M", "error=EIO", "error-pread-rate=30%");
                NbdConnection connection = NbdConnection.connect(
                        server.uri(""), List.of(QemuAllocation.BASE_ALLOCATION), NbdConnection.Options.DEFAULT)) {
            Random random = new Random(1);
            int failures = 0;
            int successes = 0;
            for (int i = 0; i < 200; i++) {
                long offset = random.nextInt(63 * (int) MiB);
                int length = 1 + random.nextInt(256 * 1024);
                ByteBuffer buffer = ByteBuffer.allocate(length);
                try {
                    connection.read(offset, buffer);
                    assertThat(buffer.array()).as("read at %d", offset).isEqualTo(pattern(offset, length));
                    successes++;
                } catch (NbdException e) {
                    assertThat(e.errnoName()).isEqualTo("EIO");
                    failures++;
                }
            }
            assertThat(failures).isPositive();
            assertThat(successes).isPositive();
        }
    }

    @Test
    void injectedBlockStatusAndWriteErrorsAreNbdExceptions() throws Exception {
        try (Tools.Server server = nbdkit(
                        "errors-rw",
                        "--filter=error",
                        "memory",
                        "16M",
                        "error=ENOSPC",
                        "error-extents-rate=100%",
                        "error-pwrite-rate=100%");
                NbdConnection connection = NbdConnection.connect(
                        server.uri(""), List.of(QemuAllocation.BASE_ALLOCATION), NbdConnection.Options.DEFAULT)) {
            assertThatThrownBy(() -> QemuAllocation.map(connection))
                    .isInstanceOfSatisfying(
                            NbdException.class, e -> assertThat(e.errnoName()).isEqualTo("ENOSPC"));
            assertThatThrownBy(() -> connection.write(0, ByteBuffer.allocate(4096), false))
                    .isInstanceOfSatisfying(
                            NbdException.class, e -> assertThat(e.errnoName()).isEqualTo("ENOSPC"));
            // the connection survives server errors
            ByteBuffer buffer = ByteBuffer.allocate(4096);
            connection.read(0, buffer);
            assertThat(buffer.array()).isEqualTo(new byte[4096]);
        }
    }

    @Test
    void writesZeroesAndTrimOnTheMemoryPluginReadBackAndMapLikeNbdinfo() throws Exception {
        try (Tools.Server server = nbdkit("memory", "memory", "32M");
                NbdBlockSink sink = NbdBlockSink.open(server.uri(""), 4)) {
            JsonNode info = nbdinfoJson(server.uri(""));
            byte[] model = new byte[32 * (int) MiB];
            byte[] payload = new byte[5 * (int) MiB];
            new Random(3).nextBytes(payload);
            sink.write(MiB, ByteBuffer.wrap(payload));
            System.arraycopy(payload, 0, model, (int) MiB, payload.length);
            sink.writeZeroes(2 * MiB, MiB);
            Arrays.fill(model, 2 * (int) MiB, 3 * (int) MiB, (byte) 0);
            sink.flush();
            try (NbdConnection connection = NbdConnection.connect(
                    server.uri(""), List.of(QemuAllocation.BASE_ALLOCATION), NbdConnection.Options.DEFAULT)) {
                assertThat(connection.info().canFastZero())
                        .isEqualTo(info.path("can_fast_zero").asBoolean());
                assertThat(connection.info().canMultiConn())
                        .isEqualTo(info.path("can_multi_conn").asBoolean());
                connection.writeZeroes(20 * MiB, 4 * MiB, true);
                connection.trim(4 * MiB, MiB);
                Arrays.fill(model, 4 * (int) MiB, 5 * (int) MiB, (byte) 0); // memory plugin trims to zeros
                connection.flush();
                ByteBuffer all = ByteBuffer.allocate(model.length);
                connection.read(0, all);
                assertThat(all.array()).isEqualTo(model);
                Map<String, StatusRuns> ours = QemuAllocation.statusRuns(connection, 0, connection.size());
                StatusRuns nbdinfo = Tools.parseNbdinfoMap(
                        QemuAllocation.BASE_ALLOCATION,
                        Tools.run("nbdinfo", "--map", server.uri("").toString()));
                assertThat(ours.get(QemuAllocation.BASE_ALLOCATION)).isEqualTo(nbdinfo);
                assertThat(QemuAllocation.fromBase(nbdinfo)
                                .extentsIn(State.DATA)
                                .totalLength())
                        .isPositive();
            }
        }
    }

    @Test
    void severalConnectionsOnlyWhenTheServerOffersMultiConn() throws Exception {
        try (Tools.Server server = nbdkit("multi", "memory", "1M");
                NbdBlockSource source = NbdBlockSource.open(server.uri(""), 4)) {
            boolean offered = nbdinfoJson(server.uri("")).path("can_multi_conn").asBoolean();
            assertThat(source.connections()).isEqualTo(offered ? 4 : 1);
        }
        try (Tools.Server server = nbdkit("single", "--filter=multi-conn", "memory", "1M", "multi-conn-mode=disable");
                NbdBlockSource source = NbdBlockSource.open(server.uri(""), 4)) {
            boolean offered = nbdinfoJson(server.uri("")).path("can_multi_conn").asBoolean();
            assertThat(offered).isFalse();
            assertThat(source.connections()).isEqualTo(1);
        }
    }
}
