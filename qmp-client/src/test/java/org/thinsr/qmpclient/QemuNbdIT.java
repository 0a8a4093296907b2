package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.FileRegion;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/** Our NBD client against qemu-nbd 7.2, compared with nbdinfo, qemu-img and qemu-io in the same run. */
class QemuNbdIT {
    static final long MiB = 1024 * 1024;
    static Path directory;
    static Path top;

    @BeforeAll
    static void images() throws IOException {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-io", "qemu-utils");
        Tools.require("qemu-nbd", "qemu-utils");
        Tools.require("nbdinfo", "libnbd-bin");
        directory = Tools.workDirectory("QemuNbdIT");
        Path base = directory.resolve("base.qcow2");
        top = directory.resolve("top.qcow2");
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "64M");
        Tools.run(
                "qemu-io",
                "-f",
                "qcow2",
                "-c",
                "write -P 0x11 0 1M",
                "-c",
                "write -P 0x44 30M 2M",
                "-c",
                "write -P 0x66 40M 64k",
                base.toString());
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2", top.toString());
        Tools.run(
                "qemu-io",
                "-f",
                "qcow2",
                "-c",
                "write -P 0x22 4M 1M", // data in the top layer
                "-c",
                "write -z 8M 1M", // a qcow2 zero cluster
                "-c",
                "write -P 0 12M 64k", // literal zeros written as data
                "-c",
                "write -P 0x55 31M 64k", // overrides part of the backing data
                "-c",
                "write -z 40M 64k", // hides backing data behind a zero cluster
                "-c",
                "write -P 0x77 63M 1M", // data at the very end
                top.toString());
    }

    static Tools.Server qemuNbd(Path socket, boolean readOnly, Path image) throws IOException {
        List<String> command = new java.util.ArrayList<>(
                List.of("qemu-nbd", "-f", "qcow2", "-k", socket.toString(), "-t", "-e", "4", "-A"));
        if (readOnly) {
            command.add("-r");
        }
        command.add(image.toString());
        return Tools.Server.start(
                socket, directory.resolve(socket.getFileName() + ".log"), command.toArray(String[]::new));
    }

    @Test
    void blockStatusOfEveryContextEqualsNbdinfoExtentForExtent() throws Exception {
        try (Tools.Server server = qemuNbd(directory.resolve("map.sock"), true, top);
                NbdConnection connection = NbdConnection.connect(
                        server.uri(""),
                        List.of(QemuAllocation.BASE_ALLOCATION, QemuAllocation.ALLOCATION_DEPTH),
                        NbdConnection.Options.DEFAULT)) {
            Map<String, StatusRuns> ours = QemuAllocation.statusRuns(connection);
            String uri = server.uri("").toString();
            StatusRuns nbdinfoBase =
                    Tools.parseNbdinfoMap(QemuAllocation.BASE_ALLOCATION, Tools.run("nbdinfo", "--map", uri));
            StatusRuns nbdinfoDepth = Tools.parseNbdinfoMap(
                    QemuAllocation.ALLOCATION_DEPTH, Tools.run("nbdinfo", "--map=qemu:allocation-depth", uri));
            assertThat(ours.get(QemuAllocation.BASE_ALLOCATION)).isEqualTo(nbdinfoBase);
            assertThat(ours.get(QemuAllocation.ALLOCATION_DEPTH)).isEqualTo(nbdinfoDepth);
            assertThat(nbdinfoBase.count()).isGreaterThan(5);
            assertThat(nbdinfoDepth.count()).isGreaterThan(nbdinfoBase.count());
        }
    }

    @Test
    void nbdMapEqualsTheQemuImgMapOfTheSameImage() throws Exception {
        AllocationMap viaQemuImg = QemuAllocation.fromQemuImgMap(top, "qcow2", Duration.ofSeconds(60));
        try (Tools.Server server = qemuNbd(directory.resolve("same.sock"), true, top);
                NbdBlockSource source = NbdBlockSource.open(server.uri(""), 1)) {
            AllocationMap viaNbd = source.allocationMap();
            assertThat(viaNbd).isEqualTo(viaQemuImg);
            // the four kinds of run the image was built to have
            assertThat(viaNbd.runs())
                    .extracting(AllocationMap.Run::state, AllocationMap.Run::provenance)
                    .contains(
                            org.assertj.core.groups.Tuple.tuple(State.DATA, Provenance.LOCAL),
                            org.assertj.core.groups.Tuple.tuple(State.DATA, Provenance.ORIGIN),
                            org.assertj.core.groups.Tuple.tuple(State.ZERO, Provenance.LOCAL),
                            org.assertj.core.groups.Tuple.tuple(State.HOLE, Provenance.LOCAL));
        }
    }

    @Test
    void readingTheWholeExportEqualsQemuImgDd() throws Exception {
        Path raw = directory.resolve("dd.raw");
        Tools.run("qemu-img", "dd", "-f", "qcow2", "-O", "raw", "if=" + top, "of=" + raw, "bs=1M");
        byte[] expected = Files.readAllBytes(raw);
        try (Tools.Server server = qemuNbd(directory.resolve("read.sock"), true, top);
                NbdBlockSource source = NbdBlockSource.open(server.uri(""), 2)) {
            assertThat(source.size()).isEqualTo(expected.length);
            ByteBuffer all = ByteBuffer.allocate((int) source.size());
            source.readFully(0, all);
            assertThat(all.array()).isEqualTo(expected);
            // unaligned reads across layer boundaries
            Random random = new Random(42);
            for (int i = 0; i < 50; i++) {
                int offset = random.nextInt(expected.length - 100_000);
                int length = 1 + random.nextInt(99_999);
                ByteBuffer part = ByteBuffer.allocate(length);
                source.readFully(offset, part);
                assertThat(part.array()).isEqualTo(java.util.Arrays.copyOfRange(expected, offset, offset + length));
            }
        }
    }

    @Test
    void writesZeroesTrimAndFlushReadBackThroughQemuIo() throws Exception {
        Path copy = directory.resolve("rw.qcow2");
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", copy.toString(), "16M");
        Tools.run("qemu-io", "-f", "qcow2", "-c", "write -P 0xaa 0 16M", copy.toString());
        byte[] model = new byte[16 * (int) MiB];
        java.util.Arrays.fill(model, (byte) 0xaa);
        byte[] payload = new byte[3 * (int) MiB + 333];
        new Random(7).nextBytes(payload);
        try (Tools.Server server = qemuNbd(directory.resolve("rw.sock"), false, copy);
                NbdBlockSink sink = NbdBlockSink.open(server.uri(""), 1)) {
            sink.write(1_000_001, ByteBuffer.wrap(payload));
            System.arraycopy(payload, 0, model, 1_000_001, payload.length);
            sink.writeZeroes(8 * MiB, 2 * MiB);
            java.util.Arrays.fill(model, 8 * (int) MiB, 10 * (int) MiB, (byte) 0);
            sink.flush();
        }
        Path raw = directory.resolve("rw.raw");
        Tools.run("qemu-img", "dd", "-f", "qcow2", "-O", "raw", "if=" + copy, "of=" + raw, "bs=1M");
        assertThat(Files.readAllBytes(raw)).isEqualTo(model);
        // qemu-io agrees on a pattern check of the zeroed range
        assertThat(Tools.run("qemu-io", "-f", "qcow2", "-c", "read -P 0 8M 2M", copy.toString()))
                .contains("read 2097152/2097152 bytes");
    }

    @Test
    void fileRegionsAreSentFromTheirFilesAndReadBackThroughQemuImg() throws Exception {
        Path copy = directory.resolve("regions.qcow2");
        Tools.run("qemu-img", "create", "-q", "-f", "qcow2", copy.toString(), "16M");
        Tools.run("qemu-io", "-f", "qcow2", "-c", "write -P 0xaa 0 16M", copy.toString());
        byte[] model = new byte[16 * (int) MiB];
        java.util.Arrays.fill(model, (byte) 0xaa);
        Path file = directory.resolve("regions.src");
        byte[] bytes = new byte[2 * (int) MiB];
        new Random(11).nextBytes(bytes);
        Files.write(file, bytes);
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file);
                Tools.Server server = qemuNbd(directory.resolve("regions.sock"), false, copy);
                NbdBlockSink sink = NbdBlockSink.open(server.uri(""), 1)) {
            // pieces of odd sizes, across the 256 KiB request split, out of order, with zeros between
            List<FileRegion> regions = List.of(
                    new FileRegion(channel, 1_000_003, 300_001),
                    FileRegion.zeros(70_000),
                    new FileRegion(channel, 7, 500_000),
                    new FileRegion(channel, 2 * MiB - 1, 1));
            long offset = 3 * MiB + 5;
            assertThat(sink.writeRegions(offset, regions))
                    .as("sent from the files")
                    .isTrue();
            int at = (int) offset;
            for (FileRegion region : regions) {
                if (region.isZeros()) {
                    java.util.Arrays.fill(model, at, at + (int) region.length(), (byte) 0);
                } else {
                    System.arraycopy(bytes, (int) region.position(), model, at, (int) region.length());
                }
                at += (int) region.length();
            }
            // a region past its file's end: refused before anything is sent, the connection goes on
            org.assertj.core.api.Assertions.assertThatThrownBy(
                            () -> sink.writeRegions(0, List.of(new FileRegion(channel, 2 * MiB - 10, 11))))
                    .isInstanceOf(org.thinsr.allocmap.CorruptInputException.class)
                    .hasMessageContaining("a file of 2097152 bytes");
            sink.write(15 * MiB, ByteBuffer.wrap(bytes, 0, 4096));
            System.arraycopy(bytes, 0, model, 15 * (int) MiB, 4096);
            sink.flush();
        }
        Path raw = directory.resolve("regions.raw");
        Tools.run("qemu-img", "dd", "-f", "qcow2", "-O", "raw", "if=" + copy, "of=" + raw, "bs=1M");
        assertThat(Files.mismatch(raw, writeModel(model)))
                .as("first differing byte")
                .isEqualTo(-1L);
    }

    private static Path writeModel(byte[] model) throws IOException {
        Path path = directory.resolve("regions.model");
        Files.write(path, model);
        return path;
    }

    @Test
    void serverKilledWithRequestsInFlightIsReportedNotHung() throws Exception {
        Tools.Server server = qemuNbd(directory.resolve("killed.sock"), true, top);
        try (NbdConnection connection =
                NbdConnection.connect(server.uri(""), List.of(), NbdConnection.Options.DEFAULT)) {
            ByteBuffer first = ByteBuffer.allocate(4096);
            connection.read(4 * MiB, first);
            server.process.destroyForcibly().waitFor();
            long start = System.nanoTime();
            org.assertj.core.api.Assertions.assertThatThrownBy(
                            () -> connection.read(0, ByteBuffer.allocate(8 * (int) MiB)))
                    .isInstanceOf(IOException.class)
                    .isNotInstanceOf(NbdException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        } finally {
            server.close();
        }
    }

    @Test
    void secondConnectionToABusySingleClientServerFailsAfterTheTimeoutInsteadOfHanging() throws Exception {
        Path socket = directory.resolve("single.sock");
        try (Tools.Server server = Tools.Server.start(
                        socket,
                        directory.resolve("single.log"),
                        "qemu-nbd",
                        "-r",
                        "-f",
                        "qcow2",
                        "-t",
                        "-k",
                        socket.toString(),
                        top.toString());
                NbdConnection first = NbdConnection.connect(server.uri(""), List.of(), NbdConnection.Options.DEFAULT)) {
            long start = System.nanoTime();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> NbdConnection.connect(
                            server.uri(""), List.of(), new NbdConnection.Options(4, Duration.ofSeconds(1))))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("did not finish the handshake");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            ByteBuffer still = ByteBuffer.allocate(512);
            first.read(0, still);
            assertThat(still.get(0)).isEqualTo((byte) 0x11);
        }
    }
}
