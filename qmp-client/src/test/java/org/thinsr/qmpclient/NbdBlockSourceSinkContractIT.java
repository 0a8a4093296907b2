package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.State;

/** The BlockSource / BlockSink contract of the NBD implementations, against each real server. */
class NbdBlockSourceSinkContractIT {
    static final int SIZE = 8 * 1024 * 1024;

    static Stream<String> servers() {
        return Stream.of("nbdkit-memory", "qemu-nbd-raw");
    }

    static Tools.Server start(String kind) throws IOException {
        Path directory = Tools.workDirectory("NbdBlockSourceSinkContractIT-" + kind);
        Path socket = directory.resolve("nbd.sock");
        Path log = directory.resolve("server.log");
        return switch (kind) {
            case "nbdkit-memory" -> {
                Tools.require("nbdkit", "nbdkit");
                yield Tools.Server.start(
                        socket, log, "nbdkit", "-f", "-U", socket.toString(), "memory", Integer.toString(SIZE));
            }
            case "qemu-nbd-raw" -> {
                Tools.require("qemu-nbd", "qemu-utils");
                Tools.require("qemu-img", "qemu-utils");
                Path image = directory.resolve("disk.raw");
                Tools.run("qemu-img", "create", "-q", "-f", "raw", image.toString(), Integer.toString(SIZE));
                yield Tools.Server.start(
                        socket,
                        log,
                        "qemu-nbd",
                        "-f",
                        "raw",
                        "-t",
                        "-e",
                        "8",
                        "-k",
                        socket.toString(),
                        image.toString());
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest
    @MethodSource("servers")
    void writtenBytesReadBackZeroedRangesReadAsZerosAndTheEndIsEnforced(String kind) throws Exception {
        try (Tools.Server server = start(kind);
                NbdBlockSink sink = NbdBlockSink.open(server.uri(""), 2);
                NbdBlockSource source = NbdBlockSource.open(server.uri(""), 2)) {
            assertThat(sink.size()).isEqualTo(SIZE);
            assertThat(source.size()).isEqualTo(SIZE);
            byte[] model = new byte[SIZE];
            byte[] data = new byte[1_500_000];
            new Random(11).nextBytes(data);
            ByteBuffer payload = ByteBuffer.wrap(data);
            sink.write(4097, payload);
            assertThat(payload.hasRemaining()).isFalse();
            System.arraycopy(data, 0, model, 4097, data.length);
            sink.writeZeroes(65536, 262144);
            java.util.Arrays.fill(model, 65536, 65536 + 262144, (byte) 0);
            sink.flush();

            ByteBuffer all = ByteBuffer.allocate(SIZE);
            source.readFully(0, all);
            assertThat(all.hasRemaining()).isFalse();
            assertThat(all.array()).isEqualTo(model);

            assertThatThrownBy(() -> source.readFully(SIZE - 10, ByteBuffer.allocate(11)))
                    .isInstanceOf(EOFException.class);
            assertThatThrownBy(() -> sink.write(SIZE - 10, ByteBuffer.allocate(11)))
                    .isInstanceOf(EOFException.class);
            assertThatThrownBy(() -> sink.writeZeroes(SIZE, 1)).isInstanceOf(EOFException.class);

            AllocationMap map = source.allocationMap();
            assertThat(map.virtualSize()).isEqualTo(SIZE);
            // every byte that is not zero lies in a DATA run
            for (int i = 0; i < SIZE; i += 4096) {
                boolean nonZero = false;
                for (int j = i; j < i + 4096; j++) {
                    nonZero |= model[j] != 0;
                }
                if (nonZero) {
                    assertThat(map.runState(map.runIndexAt(i)))
                            .as("state at %d", i)
                            .isEqualTo(State.DATA);
                }
            }
        }
    }
}
