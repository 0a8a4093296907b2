package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against real {@code qemu-img map --output=json} of qcow2 images made with qemu-img and qemu-io:
 * data, zero clusters ({@code write -z}), holes and a backing file; cross-checked with the human
 * {@code qemu-img map} output of the same images.
 */
class QemuImgMapIT {
    private static final long K = 1024;
    private static final long M = K * K;
    private static final java.util.regex.Pattern WHITESPACE = java.util.regex.Pattern.compile("\\s+");

    @Test
    void qemuImgMapOfABackedQcow2GivesStatesAndProvenanceOfWhatWasWritten(@TempDir Path dir) throws IOException {
        String qemuImg = Tools.require("qemu-img", "qemu-utils");
        String qemuIo = Tools.require("qemu-io", "qemu-utils");
        Path base = dir.resolve("base.qcow2");
        Path top = dir.resolve("top.qcow2");
        Tools.check(List.of(qemuImg, "create", "-f", "qcow2", base.toString(), "8M"), null, 60);
        Tools.check(
                List.of(
                        qemuIo,
                        "-f",
                        "qcow2",
                        "-c",
                        "write -P 1 0 64k",
                        "-c",
                        "write -P 3 2M 128k",
                        "-c",
                        "write -z 4M 64k",
                        base.toString()),
                null,
                60);
        Tools.check(
                List.of(qemuImg, "create", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2", top.toString(), "10M"),
                null,
                60);
        Tools.check(
                List.of(
                        qemuIo,
                        "-f",
                        "qcow2",
                        "-c",
                        "write -P 2 1M 64k",
                        "-c",
                        "write -P 4 2112k 64k",
                        "-c",
                        "write -z 6M 64k",
                        top.toString()),
                null,
                60);
        Tools.Result json =
                Tools.check(List.of(qemuImg, "map", "--output=json", "-f", "qcow2", top.toString()), null, 60);
        AllocationMap map = QemuImgMapParser.parse(new ByteArrayInputStream(json.stdout()), "qemu-img map", 10 * M);

        ExtentSet localWrites = ExtentSet.of(new Extent(M, M + 64 * K), new Extent(2 * M + 64 * K, 2 * M + 128 * K));
        ExtentSet originWrites = ExtentSet.of(new Extent(0, 64 * K), new Extent(2 * M, 2 * M + 64 * K));
        assertThat(map.nonZeroExtents()).isEqualTo(localWrites.union(originWrites));
        assertThat(map.localExtents()).isEqualTo(localWrites);
        assertThat(map.runProvenance(map.runIndexAt(0))).isEqualTo(Provenance.ORIGIN);
        assertThat(map.runProvenance(map.runIndexAt(2 * M))).isEqualTo(Provenance.ORIGIN);
        assertThat(map.runState(map.runIndexAt(4 * M))).isEqualTo(State.HOLE);
        assertThat(map.runState(map.runIndexAt(6 * M))).isEqualTo(State.HOLE);
        // past the backing file's end qemu looks no deeper: local holes
        assertThat(map.runProvenance(map.runIndexAt(9 * M))).isEqualTo(Provenance.LOCAL);

        // the human output of the same tool lists the data ranges with the file holding them
        Tools.Result human = Tools.check(List.of(qemuImg, "map", "-f", "qcow2", top.toString()), null, 60);
        ExtentSet.Builder humanLocal = ExtentSet.builder();
        ExtentSet.Builder humanAll = ExtentSet.builder();
        for (String line : human.stdoutText().lines().toList()) {
            String[] fields = WHITESPACE.split(line.trim(), -1);
            if (fields.length < 4 || fields[0].equals("Offset")) {
                continue;
            }
            long offset = Long.decode(fields[0]);
            long length = Long.decode(fields[1]);
            humanAll.addLength(offset, length);
            if (Path.of(fields[3]).getFileName().equals(top.getFileName())) {
                humanLocal.addLength(offset, length);
            }
        }
        assertThat(map.dataExtents()).isEqualTo(humanAll.build());
        assertThat(map.localExtents()).isEqualTo(humanLocal.build());

        // the template case: a thin volume over this image as its external origin
        Tools.Result baseJson =
                Tools.check(List.of(qemuImg, "map", "--output=json", "-f", "qcow2", base.toString()), null, 60);
        AllocationMap origin = QemuImgMapParser.parse(new ByteArrayInputStream(baseJson.stdout()), "base", 8 * M);
        ExtentSet thin = ExtentSet.of(new Extent(2 * M, 2 * M + 64 * K), new Extent(9 * M, 9 * M + 64 * K));
        AllocationMap merged = AllocationMaps.mergeExternalOrigin(12 * M, thin, origin);
        assertThat(merged.localExtents()).isEqualTo(thin);
        assertThat(merged.nonZeroExtents())
                .isEqualTo(thin.union(ExtentSet.of(new Extent(0, 64 * K), new Extent(2 * M, 2 * M + 128 * K))));
        assertThat(merged.runProvenance(merged.runIndexAt(2 * M + 64 * K))).isEqualTo(Provenance.ORIGIN);
        assertThat(merged.runState(merged.runIndexAt(8 * M))).isEqualTo(State.HOLE);
        assertThat(merged.runProvenance(merged.runIndexAt(8 * M))).isEqualTo(Provenance.LOCAL);
    }
}
