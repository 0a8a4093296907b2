package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** mergeExternalOrigin against a per-byte model over small disks: exhaustive shapes, then random. */
class AllocationMapsTest {
    private static final State[] STATES = {State.DATA, State.ZERO, State.HOLE};

    /** Expected state/provenance of each byte: thin-mapped LOCAL DATA, else origin shifted, else HOLE. */
    private static AllocationMap model(long volumeSize, ExtentSet thin, AllocationMap origin) {
        AllocationMap.Builder builder = AllocationMap.builder(volumeSize);
        for (long offset = 0; offset < volumeSize; offset++) {
            if (thin.contains(offset)) {
                builder.add(offset, offset + 1, State.DATA, Provenance.LOCAL);
            } else if (offset < origin.virtualSize()) {
                int run = origin.runIndexAt(offset);
                builder.add(
                        offset,
                        offset + 1,
                        origin.runState(run),
                        Provenance.origin(origin.runProvenance(run).depth() + 1));
            } else {
                builder.add(offset, offset + 1, State.HOLE, Provenance.LOCAL);
            }
        }
        return builder.build();
    }

    @Test
    void everySmallThinSetOverEverySmallOriginMatchesTheModel() {
        int[] depths = {0, 1};
        for (int originSize = 0; originSize <= 4; originSize++) {
            int originCombinations = (int) Math.pow(6, originSize);
            for (int code = 0; code < originCombinations; code++) {
                AllocationMap.Builder originBuilder = AllocationMap.builder(originSize);
                int rest = code;
                for (int i = 0; i < originSize; i++) {
                    int cell = rest % 6;
                    rest /= 6;
                    originBuilder.add(i, i + 1, STATES[cell % 3], Provenance.ofDepth(depths[cell / 3]));
                }
                AllocationMap origin = originBuilder.build();
                for (int volumeSize = 0; volumeSize <= 5; volumeSize++) {
                    for (int mask = 0; mask < 1 << 6; mask++) {
                        ExtentSet.Builder thin = ExtentSet.builder();
                        for (int bit = 0; bit < 6; bit++) {
                            if ((mask & (1 << bit)) != 0) {
                                thin.add(bit, bit + 1);
                            }
                        }
                        ExtentSet thinMapped = thin.build();
                        assertThat(AllocationMaps.mergeExternalOrigin(volumeSize, thinMapped, origin))
                                .as("volume %s thin %s origin %s", volumeSize, thinMapped, origin)
                                .isEqualTo(model(volumeSize, thinMapped, origin));
                    }
                }
            }
        }
    }

    @Test
    void seededRandomMergesMatchTheModel() {
        long seed = System.nanoTime();
        System.out.println("AllocationMapsTest seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 200; round++) {
            int originSize = random.nextInt(400);
            AllocationMap.Builder originBuilder = AllocationMap.builder(originSize);
            while (originBuilder.position() < originSize) {
                long end = Math.min(originSize, originBuilder.position() + 1 + random.nextInt(40));
                originBuilder.add(
                        originBuilder.position(),
                        end,
                        STATES[random.nextInt(3)],
                        Provenance.ofDepth(random.nextInt(3)));
            }
            AllocationMap origin = originBuilder.build();
            ExtentSet.Builder thin = ExtentSet.builder();
            for (int i = random.nextInt(10); i > 0; i--) {
                long start = random.nextInt(500);
                thin.add(start, start + 1 + random.nextInt(60));
            }
            int volumeSize = random.nextInt(500);
            ExtentSet thinMapped = thin.build();
            assertThat(AllocationMaps.mergeExternalOrigin(volumeSize, thinMapped, origin))
                    .as("seed %s", seed)
                    .isEqualTo(model(volumeSize, thinMapped, origin));
        }
    }
}
