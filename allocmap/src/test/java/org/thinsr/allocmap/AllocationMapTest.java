package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The allocation map against a per-byte model: every assignment of (state, provenance) to a tiny
 * disk, then seeded random maps (the seed is printed).
 */
class AllocationMapTest {
    private static final State[] STATES = {State.DATA, State.ZERO, State.HOLE};
    private static final Provenance[] PROVENANCES = {Provenance.LOCAL, Provenance.ORIGIN, Provenance.origin(2)};

    /** A per-byte model: cell i holds state index * 3 + provenance index. */
    private static AllocationMap build(int[] cells) {
        AllocationMap.Builder builder = AllocationMap.builder(cells.length);
        for (int i = 0; i < cells.length; i++) {
            builder.add(i, i + 1, STATES[cells[i] / 3], PROVENANCES[cells[i] % 3]);
        }
        return builder.build();
    }

    private static void assertMatchesModel(AllocationMap map, int[] cells) {
        assertThat(map.virtualSize()).isEqualTo(cells.length);
        int expectedRuns = 0;
        for (int i = 0; i < cells.length; i++) {
            if (i == 0 || cells[i] != cells[i - 1]) {
                expectedRuns++;
            }
            int run = map.runIndexAt(i);
            assertThat(map.runStart(run)).isLessThanOrEqualTo(i);
            assertThat(map.runEnd(run)).isGreaterThan(i);
            assertThat(map.runState(run)).isEqualTo(STATES[cells[i] / 3]);
            assertThat(map.runProvenance(run)).isEqualTo(PROVENANCES[cells[i] % 3]);
        }
        assertThat(map.runCount()).as("runs coalesced").isEqualTo(expectedRuns);
        ExtentSet.Builder data = ExtentSet.builder();
        ExtentSet.Builder nonZero = ExtentSet.builder();
        ExtentSet.Builder local = ExtentSet.builder();
        ExtentSet.Builder zero = ExtentSet.builder();
        for (int i = 0; i < cells.length; i++) {
            State state = STATES[cells[i] / 3];
            if (state != State.HOLE) {
                data.add(i, i + 1);
                if (PROVENANCES[cells[i] % 3].isLocal()) {
                    local.add(i, i + 1);
                }
            }
            if (state == State.DATA) {
                nonZero.add(i, i + 1);
            }
            if (state == State.ZERO) {
                zero.add(i, i + 1);
            }
        }
        assertThat(map.dataExtents()).isEqualTo(data.build());
        assertThat(map.nonZeroExtents()).isEqualTo(nonZero.build());
        assertThat(map.localExtents()).isEqualTo(local.build());
        assertThat(map.extentsIn(State.ZERO)).isEqualTo(zero.build());
    }

    @Test
    void everyMapOfAFourByteDiskMatchesItsModel() {
        int kinds = 9;
        int[] cells = new int[4];
        for (int code = 0; code < kinds * kinds * kinds * kinds; code++) {
            int rest = code;
            for (int i = 0; i < cells.length; i++) {
                cells[i] = rest % kinds;
                rest /= kinds;
            }
            AllocationMap map = build(cells);
            assertMatchesModel(map, cells);
            assertThat(map).isEqualTo(build(cells.clone()));
            assertThat(map.runs()).hasSize(map.runCount());
        }
    }

    @Test
    void seededRandomMapsMatchTheirModel() {
        long seed = System.nanoTime();
        System.out.println("AllocationMapTest seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 200; round++) {
            int[] cells = new int[1 + random.nextInt(300)];
            int current = random.nextInt(9);
            for (int i = 0; i < cells.length; i++) {
                if (random.nextInt(5) == 0) {
                    current = random.nextInt(9);
                }
                cells[i] = current;
            }
            assertMatchesModel(build(cells), cells);
        }
    }

    @Test
    void ofDataClipsToTheVirtualSizeAndFillsHoles() {
        AllocationMap map = AllocationMap.ofData(100, ExtentSet.of(new Extent(10, 20), new Extent(90, 150)));
        assertThat(map.runs())
                .containsExactly(
                        new AllocationMap.Run(0, 10, State.HOLE, Provenance.LOCAL),
                        new AllocationMap.Run(10, 20, State.DATA, Provenance.LOCAL),
                        new AllocationMap.Run(20, 90, State.HOLE, Provenance.LOCAL),
                        new AllocationMap.Run(90, 100, State.DATA, Provenance.LOCAL));
    }

    @Test
    void anEmptyDiskHasNoRuns() {
        assertThat(AllocationMap.uniform(0, State.DATA, Provenance.LOCAL).runCount())
                .isZero();
    }

    @Test
    void builderRefusesGapsOverrunsAndShortMaps() {
        assertThatThrownBy(() -> AllocationMap.builder(10).add(1, 5, State.DATA, Provenance.LOCAL))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AllocationMap.builder(10).add(0, 11, State.DATA, Provenance.LOCAL))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AllocationMap.builder(10)
                        .add(0, 5, State.DATA, Provenance.LOCAL)
                        .build())
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> AllocationMap.builder(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() ->
                        AllocationMap.uniform(10, State.DATA, Provenance.LOCAL).runIndexAt(10))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }
}
