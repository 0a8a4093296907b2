package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.CorruptInputException;

/** {@link Qcow2Header} against what {@code qemu-img info} prints for the same files, and damaged headers. */
class Qcow2HeaderIT {
    @TempDir
    Path dir;

    private JsonNode qemuImgInfo(Path file) throws IOException {
        String json = CommandRunner.PROCESSES.check(
                List.of("qemu-img", "info", "-U", "--output=json", "-f", "qcow2", file.toString()),
                Duration.ofSeconds(30));
        return SrMetadataStore.JSON.readTree(json);
    }

    private Path create(String name, String... options) {
        List<String> command = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", "qcow2"));
        command.addAll(List.of(options));
        command.add(dir.resolve(name).toString());
        CommandRunner.PROCESSES.check(command, Duration.ofSeconds(30));
        return dir.resolve(name);
    }

    @Test
    void sizeAndBackingNameEqualQemuImgInfoForV2V3OddSizesAndBackingFiles() throws IOException {
        Tools.require("qemu-img", "qemu-utils");
        List<Path> files = new ArrayList<>();
        files.add(create("plain.qcow2", "-o", "size=1073741824"));
        files.add(create("odd.qcow2", "-o", "size=1000448,cluster_size=512"));
        files.add(create("v2.qcow2", "-o", "compat=0.10,size=5G,cluster_size=2M"));
        files.add(create("child.qcow2", "-b", "plain.qcow2", "-F", "qcow2", "-u", "-o", "size=1073741824"));
        files.add(create(
                "long.qcow2",
                "-b",
                ".base-" + "x".repeat(200) + ".qcow2",
                "-F",
                "qcow2",
                "-u",
                "-o",
                "size=70000000000"));
        for (Path file : files) {
            JsonNode info = qemuImgInfo(file);
            Qcow2Header header = Qcow2Header.read(file);
            assertThat(header.virtualSize())
                    .as("virtual size of %s", file)
                    .isEqualTo(info.path("virtual-size").asLong());
            assertThat(header.backingFile())
                    .as("backing name of %s", file)
                    .isEqualTo(info.path("backing-filename").asText(""));
            assertThat(header.plainClusters()).as("plain clusters of %s", file).isTrue();
        }
    }

    @Test
    void encryptedImagesAndExternalDataFilesHaveNoPlainClustersAsQemuImgInfoSays() throws IOException {
        Tools.require("qemu-img", "qemu-utils");
        Path encrypted = create(
                "aes.qcow2",
                "--object",
                "secret,id=s0,data=not-a-secret",
                "-o",
                "encrypt.format=aes,encrypt.key-secret=s0,size=64M");
        Path external = create("external.qcow2", "-o", "data_file=" + dir.resolve("external.raw") + ",size=64M");
        JsonNode encryptedInfo = qemuImgInfo(encrypted);
        JsonNode externalInfo = qemuImgInfo(external);
        assertThat(encryptedInfo.path("encrypted").asBoolean()).isTrue();
        assertThat(externalInfo
                        .path("format-specific")
                        .path("data")
                        .path("data-file")
                        .asText())
                .isEqualTo(dir.resolve("external.raw").toString());
        assertThat(Qcow2Header.read(encrypted).plainClusters()).isFalse();
        assertThat(Qcow2Header.read(external).plainClusters()).isFalse();
    }

    /** Whether {@code qemu-img map} puts any range of the overlay's content in its own top layer (depth 0). */
    private static boolean qemuSeesClustersInTop(Path overlay) throws IOException {
        String json = CommandRunner.PROCESSES.check(
                List.of("qemu-img", "map", "-U", "--output=json", "-f", "qcow2", overlay.toString()),
                Duration.ofSeconds(30));
        for (JsonNode entry : SrMetadataStore.JSON.readTree(json)) {
            if (entry.path("depth").asInt() == 0) {
                return true;
            }
        }
        return false;
    }

    private void qemuIo(Path image, String command) {
        CommandRunner.PROCESSES.check(
                List.of("qemu-io", "-f", "qcow2", "-c", command, image.toString()), Duration.ofSeconds(30));
    }

    @Test
    void overlaysWithoutClustersOfTheirOwnAreUnallocatedAsQemuImgMapSays() throws IOException {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-io", "qemu-utils");
        Path base = create("base.qcow2", "-o", "size=1T");
        qemuIo(base, "write -P 7 0 1M");
        List<Path> overlays = new ArrayList<>();
        for (String name : List.of("fresh", "data", "zero", "discarded", "snapshotted")) {
            overlays.add(create(name + ".qcow2", "-b", base.toString(), "-F", "qcow2"));
        }
        qemuIo(overlays.get(1), "write -P 9 " + (512L << 30) + " 64k"); // a data cluster far out
        qemuIo(overlays.get(2), "write -z 0 64k"); // a zero cluster hiding base data
        qemuIo(overlays.get(3), "discard 0 1M"); // over a backing file: zero clusters
        CommandRunner.PROCESSES.check(
                List.of("qemu-img", "snapshot", "-c", "s1", overlays.get(4).toString()), Duration.ofSeconds(30));
        for (Path overlay : overlays.subList(0, 4)) {
            assertThat(Qcow2Header.unallocated(overlay))
                    .as(overlay.getFileName().toString())
                    .isEqualTo(!qemuSeesClustersInTop(overlay));
        }
        assertThat(Qcow2Header.unallocated(overlays.get(0))).as("fresh").isTrue();
        assertThat(Qcow2Header.unallocated(overlays.get(4)))
                .as("an internal snapshot may own clusters: not unallocated")
                .isFalse();
        assertThat(Qcow2Header.unallocated(base)).isFalse();
        Path notQcow2 = Files.write(dir.resolve("plain.raw"), new byte[4096]);
        assertThat(Qcow2Header.unallocated(notQcow2)).isFalse();
    }

    @Test
    void damagedHeadersFailNamingTheField() throws IOException {
        Tools.require("qemu-img", "qemu-utils");
        Path good = create("good.qcow2", "-b", "base.qcow2", "-F", "qcow2", "-u", "-o", "size=1G");
        assertBroken(good, "magic.qcow2", 0, ByteBuffer.allocate(4).putInt(0x514649fa), "qcow2 magic");
        assertBroken(good, "version.qcow2", 4, ByteBuffer.allocate(4).putInt(4), "qcow2 version");
        assertBroken(good, "name-size.qcow2", 16, ByteBuffer.allocate(4).putInt(0x7fff_ffff), "backing_file_size");
        assertBroken(good, "name-offset.qcow2", 8, ByteBuffer.allocate(8).putLong(1L << 40), "backing_file_offset");
        assertBroken(good, "cluster-bits.qcow2", 20, ByteBuffer.allocate(4).putInt(63), "cluster_bits");
        assertBroken(good, "size.qcow2", 24, ByteBuffer.allocate(8).putLong(-1), "qcow2 size");
        Path truncated = dir.resolve("truncated.qcow2");
        Files.write(truncated, java.util.Arrays.copyOf(Files.readAllBytes(good), 20));
        assertThatThrownBy(() -> Qcow2Header.read(truncated))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("end of file at 20");
    }

    private void assertBroken(Path good, String name, long offset, ByteBuffer bytes, String field) throws IOException {
        Path broken = dir.resolve(name);
        Files.copy(good, broken);
        try (FileChannel channel = FileChannel.open(broken, StandardOpenOption.WRITE)) {
            channel.write(bytes.flip(), offset);
        }
        assertThatThrownBy(() -> Qcow2Header.read(broken))
                .as(name)
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining(broken.toString())
                .hasMessageContaining(field)
                .hasMessageContaining("expected");
    }
}
