package org.thinsr.qmpclient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

class QemuAllocationTest {
    static StatusRuns runs(String context, long... endsAndFlags) {
        StatusRuns.Builder builder = StatusRuns.builder(context);
        for (int i = 0; i < endsAndFlags.length; i += 2) {
            builder.extendTo(endsAndFlags[i], (int) endsAndFlags[i + 1]);
        }
        return builder.build();
    }

    @Test
    void baseAllocationFlagsMapToStatesWithHoleAloneReadAsData() {
        assertThat(QemuAllocation.baseState(0)).isEqualTo(State.DATA);
        assertThat(QemuAllocation.baseState(2)).isEqualTo(State.ZERO);
        assertThat(QemuAllocation.baseState(3)).isEqualTo(State.HOLE);
        assertThat(QemuAllocation.baseState(1)).isEqualTo(State.DATA);
        assertThat(QemuAllocation.baseState(0x10 | 3)).isEqualTo(State.HOLE);
    }

    @Test
    void baseAloneIsLocalAndEqualNeighboursMerge() {
        AllocationMap map = QemuAllocation.fromBase(runs("base:allocation", 4096, 0, 8192, 1, 12288, 2, 16384, 3));
        assertThat(map)
                .isEqualTo(AllocationMap.builder(16384)
                        .add(0, 8192, State.DATA, Provenance.LOCAL)
                        .add(8192, 12288, State.ZERO, Provenance.LOCAL)
                        .add(12288, 16384, State.HOLE, Provenance.LOCAL)
                        .build());
    }

    @Test
    void depthGivesProvenanceAndTurnsAllocatedHolesIntoZeroClusters() {
        StatusRuns base = runs("base:allocation", 1000, 0, 3000, 3, 4000, 0);
        StatusRuns depth = runs("qemu:allocation-depth", 500, 2, 2000, 0, 3000, 1, 4000, 3);
        assertThat(QemuAllocation.fromBaseAndDepth(base, depth))
                .isEqualTo(AllocationMap.builder(4000)
                        .add(0, 500, State.DATA, Provenance.origin(1))
                        .add(500, 1000, State.HOLE, Provenance.LOCAL)
                        .add(1000, 2000, State.HOLE, Provenance.LOCAL)
                        .add(2000, 3000, State.ZERO, Provenance.LOCAL)
                        .add(3000, 4000, State.DATA, Provenance.origin(2))
                        .build());
    }

    @Test
    void dirtyBitmapRunsBecomeAnExtentSet() {
        assertThat(QemuAllocation.dirtyExtents(runs("qemu:dirty-bitmap:b", 65536, 0, 131072, 1, 196608, 0, 262144, 1)))
                .isEqualTo(ExtentSet.builder()
                        .add(65536, 131072)
                        .add(196608, 262144)
                        .build());
    }

    static final String MAP_JSON = """
            [{ "start": 0, "length": 1048576, "depth": 1, "present": true, "zero": false, "data": true, "offset": 327680},
            { "start": 1048576, "length": 3145728, "depth": 1, "present": false, "zero": true, "data": false},
            { "start": 4194304, "length": 1048576, "depth": 0, "present": true, "zero": false, "data": true, "offset": 327680},
            { "start": 5242880, "length": 3145728, "depth": 1, "present": false, "zero": true, "data": false},
            { "start": 8388608, "length": 1048576, "depth": 0, "present": true, "zero": true, "data": false}]
            """;

    static final AllocationMap MAP_EXPECTED = AllocationMap.builder(9437184)
            .add(0, 1048576, State.DATA, Provenance.ORIGIN)
            .add(1048576, 4194304, State.HOLE, Provenance.LOCAL)
            .add(4194304, 5242880, State.DATA, Provenance.LOCAL)
            .add(5242880, 8388608, State.HOLE, Provenance.LOCAL)
            .add(8388608, 9437184, State.ZERO, Provenance.LOCAL)
            .build();

    static AllocationMap parse(InputStream in) throws IOException {
        return QemuImgMapParser.parse(in, "qemu-img map");
    }

    @Test
    void qemuImgMapParsesWholeAndOneByteAtATime() throws IOException {
        byte[] bytes = MAP_JSON.getBytes(StandardCharsets.UTF_8);
        assertThat(parse(new ByteArrayInputStream(bytes))).isEqualTo(MAP_EXPECTED);
        InputStream trickle = new ByteArrayInputStream(bytes) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, 1));
            }
        };
        assertThat(parse(trickle)).isEqualTo(MAP_EXPECTED);
    }

    @Test
    void qemuImgMapTruncatedAtAnyPointIsCorruptInput() {
        byte[] bytes = MAP_JSON.strip().getBytes(StandardCharsets.UTF_8);
        for (int cut = 0; cut < bytes.length; cut++) {
            byte[] truncated = java.util.Arrays.copyOf(bytes, cut);
            assertThatThrownBy(() -> parse(new ByteArrayInputStream(truncated)))
                    .as("truncated at %d", cut)
                    .isInstanceOf(CorruptInputException.class);
        }
    }

    @Test
    void qemuImgMapWithTrailingGarbageOrGapsIsRejected() {
        assertThatThrownBy(() -> parse(new ByteArrayInputStream((MAP_JSON + "{}").getBytes(StandardCharsets.UTF_8))))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("trailing content");
        String gap = "[{\"start\": 0, \"length\": 512, \"depth\": 0, \"zero\": false, \"data\": true},"
                + "{\"start\": 1024, \"length\": 512, \"depth\": 0, \"zero\": false, \"data\": true}]";
        assertThatThrownBy(() -> parse(new ByteArrayInputStream(gap.getBytes(StandardCharsets.UTF_8))))
                .hasMessageContaining("entry 1: start: actual 1024, expected 512");
        String negative = "[{\"start\": 0, \"length\": -5, \"depth\": 0, \"zero\": false, \"data\": true}]";
        assertThatThrownBy(() -> parse(new ByteArrayInputStream(negative.getBytes(StandardCharsets.UTF_8))))
                .hasMessageContaining("field length: actual -5");
    }
}
