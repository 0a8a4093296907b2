package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Set algebra against a {@link BitSet} model: every subset of a tiny universe, every pair, then
 * seeded random sets over a larger one (the seed is printed).
 */
class ExtentSetTest {
    private static final int UNIVERSE = 8;
    private static final int SUBSETS = 1 << UNIVERSE;

    /** The extent set whose offsets are the bits of {@code mask}. */
    private static ExtentSet fromMask(int mask) {
        ExtentSet.Builder builder = ExtentSet.builder();
        for (int bit = 0; bit < UNIVERSE; bit++) {
            if ((mask & (1 << bit)) != 0) {
                builder.add(bit, bit + 1);
            }
        }
        return builder.build();
    }

    private static BitSet bits(int mask) {
        return BitSet.valueOf(new long[] {mask});
    }

    private static BitSet model(ExtentSet set) {
        BitSet bits = new BitSet();
        set.forEach((start, end) -> bits.set(Math.toIntExact(start), Math.toIntExact(end)));
        return bits;
    }

    /** Checks the representation invariant: sorted, disjoint, non-adjacent, non-empty extents. */
    private static void assertCanonical(ExtentSet set) {
        assertThat(set.storedLongs()).isEqualTo(2 * set.size());
        for (int i = 0; i < set.size(); i++) {
            assertThat(set.start(i)).isLessThan(set.end(i));
            if (i > 0) {
                assertThat(set.end(i - 1)).isLessThan(set.start(i));
            }
        }
    }

    private static int runCount(BitSet bits) {
        int runs = 0;
        for (int i = bits.nextSetBit(0); i >= 0; i = bits.nextSetBit(bits.nextClearBit(i))) {
            runs++;
        }
        return runs;
    }

    @Test
    void everySubsetHasTheModelsOffsetsRunsAndLength() {
        for (int mask = 0; mask < SUBSETS; mask++) {
            ExtentSet set = fromMask(mask);
            BitSet expected = bits(mask);
            assertCanonical(set);
            assertThat(model(set)).as("mask %s", mask).isEqualTo(expected);
            assertThat(set.totalLength()).isEqualTo(expected.cardinality());
            assertThat(set.size()).isEqualTo(runCount(expected));
            assertThat(set.isEmpty()).isEqualTo(expected.isEmpty());
            for (int offset = 0; offset <= UNIVERSE + 1; offset++) {
                assertThat(set.contains(offset))
                        .as("mask %s offset %s", mask, offset)
                        .isEqualTo(expected.get(offset));
            }
            for (int start = 0; start <= UNIVERSE; start++) {
                for (int end = start; end <= UNIVERSE; end++) {
                    BitSet range = new BitSet();
                    range.set(start, end);
                    BitSet inside = (BitSet) range.clone();
                    inside.and(expected);
                    assertThat(set.contains(start, end))
                            .as("mask %s contains [%s, %s)", mask, start, end)
                            .isEqualTo(inside.equals(range));
                    assertThat(set.intersects(start, end))
                            .as("mask %s intersects [%s, %s)", mask, start, end)
                            .isEqualTo(!inside.isEmpty());
                    ExtentSet clipped = set.clip(start, end);
                    assertCanonical(clipped);
                    assertThat(model(clipped)).isEqualTo(inside);
                    ExtentSet complement = set.complement(start, end);
                    BitSet outside = (BitSet) range.clone();
                    outside.andNot(expected);
                    assertCanonical(complement);
                    assertThat(model(complement)).isEqualTo(outside);
                }
            }
        }
    }

    @Test
    void everyPairCombinesLikeTheModel() {
        ExtentSet[] sets = new ExtentSet[SUBSETS];
        for (int mask = 0; mask < SUBSETS; mask++) {
            sets[mask] = fromMask(mask);
        }
        for (int a = 0; a < SUBSETS; a++) {
            for (int b = 0; b < SUBSETS; b++) {
                ExtentSet union = sets[a].union(sets[b]);
                ExtentSet intersection = sets[a].intersection(sets[b]);
                ExtentSet difference = sets[a].difference(sets[b]);
                assertCanonical(union);
                assertCanonical(intersection);
                assertCanonical(difference);
                assertThat(union).as("%s | %s", a, b).isEqualTo(sets[a | b]);
                assertThat(intersection).as("%s & %s", a, b).isEqualTo(sets[a & b]);
                assertThat(difference).as("%s - %s", a, b).isEqualTo(sets[a & ~b]);
            }
        }
    }

    @Test
    void complementWithinIsTheModelsComplement() {
        for (int mask = 0; mask < SUBSETS; mask++) {
            for (int within = 0; within <= UNIVERSE; within++) {
                BitSet expected = new BitSet();
                expected.set(0, within);
                expected.andNot(bits(mask));
                assertThat(model(fromMask(mask).complement(within))).isEqualTo(expected);
            }
        }
    }

    @Test
    void alignOutCoversEveryBlockTouched() {
        for (int mask = 0; mask < SUBSETS; mask++) {
            ExtentSet set = fromMask(mask);
            for (int blockSize = 1; blockSize <= UNIVERSE + 1; blockSize++) {
                BitSet expected = new BitSet();
                BitSet source = bits(mask);
                for (int bit = source.nextSetBit(0); bit >= 0; bit = source.nextSetBit(bit + 1)) {
                    int blockStart = bit - bit % blockSize;
                    expected.set(blockStart, blockStart + blockSize);
                }
                ExtentSet aligned = set.alignOut(blockSize);
                assertCanonical(aligned);
                assertThat(model(aligned))
                        .as("mask %s block %s", mask, blockSize)
                        .isEqualTo(expected);
            }
        }
    }

    @Test
    void builderCoalescesAddsInAnyOrderIncludingOverlaps() {
        for (int mask = 0; mask < SUBSETS; mask++) {
            ExtentSet set = fromMask(mask);
            List<Extent> pieces = new ArrayList<>(set.extents());
            // split each extent into overlapping halves too
            for (Extent extent : set.extents()) {
                long middle = (extent.start() + extent.end() + 1) / 2;
                pieces.add(new Extent(extent.start(), middle));
                pieces.add(new Extent(Math.max(extent.start(), middle - 1), extent.end()));
                pieces.add(new Extent(extent.start(), extent.start()));
            }
            Collections.reverse(pieces);
            ExtentSet.Builder reversed = ExtentSet.builder();
            pieces.forEach(reversed::add);
            assertThat(reversed.build()).as("mask %s reversed", mask).isEqualTo(set);
            Collections.shuffle(pieces, new Random(mask));
            ExtentSet.Builder shuffled = ExtentSet.builder();
            pieces.forEach(shuffled::add);
            assertThat(shuffled.build()).as("mask %s shuffled", mask).isEqualTo(set);
        }
    }

    @Test
    void seededRandomSetsOverALargerUniverseAgreeWithTheModel() {
        long seed = System.nanoTime();
        System.out.println("ExtentSetTest seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 300; round++) {
            int universe = 1 + random.nextInt(2000);
            BitSet modelA = randomBits(random, universe);
            BitSet modelB = randomBits(random, universe);
            ExtentSet a = shuffledBuild(random, modelA);
            ExtentSet b = shuffledBuild(random, modelB);
            assertThat(model(a)).as("seed %s", seed).isEqualTo(modelA);
            BitSet or = (BitSet) modelA.clone();
            or.or(modelB);
            BitSet and = (BitSet) modelA.clone();
            and.and(modelB);
            BitSet andNot = (BitSet) modelA.clone();
            andNot.andNot(modelB);
            assertThat(model(a.union(b))).as("seed %s", seed).isEqualTo(or);
            assertThat(model(a.intersection(b))).as("seed %s", seed).isEqualTo(and);
            assertThat(model(a.difference(b))).as("seed %s", seed).isEqualTo(andNot);
            assertThat(a.totalLength()).as("seed %s", seed).isEqualTo(modelA.cardinality());
            assertThat(a.size()).as("seed %s", seed).isEqualTo(runCount(modelA));
            int probe = random.nextInt(universe + 1);
            assertThat(a.contains(probe)).as("seed %s", seed).isEqualTo(modelA.get(probe));
        }
    }

    private static BitSet randomBits(Random random, int universe) {
        BitSet bits = new BitSet();
        int runs = random.nextInt(20);
        for (int i = 0; i < runs; i++) {
            int start = random.nextInt(universe);
            bits.set(start, Math.min(universe, start + 1 + random.nextInt(200)));
        }
        return bits;
    }

    private static ExtentSet shuffledBuild(Random random, BitSet bits) {
        List<Extent> extents = new ArrayList<>();
        for (int i = bits.nextSetBit(0); i >= 0; i = bits.nextSetBit(i + 1)) {
            int end = bits.nextClearBit(i);
            extents.add(new Extent(i, end));
            i = end;
        }
        Collections.shuffle(extents, random);
        ExtentSet.Builder builder = ExtentSet.builder();
        extents.forEach(builder::add);
        return builder.build();
    }

    @Test
    void aBuiltSetStoresOneLongArrayOfSixteenBytesPerExtent() throws ReflectiveOperationException {
        List<Field> instanceFields = new ArrayList<>();
        for (Field field : ExtentSet.class.getDeclaredFields()) {
            if (!Modifier.isStatic(field.getModifiers())) {
                instanceFields.add(field);
            }
        }
        assertThat(instanceFields).hasSize(1);
        assertThat(instanceFields.get(0).getType()).isEqualTo(long[].class);
        ExtentSet.Builder builder = ExtentSet.builder();
        for (long i = 0; i < 100_000; i++) {
            builder.add(i * 10, i * 10 + 3);
        }
        ExtentSet set = builder.build();
        Field bounds = instanceFields.get(0);
        bounds.setAccessible(true);
        assertThat(((long[]) bounds.get(set)).length).isEqualTo(200_000);
        assertThat(set.storedLongs()).isEqualTo(2 * set.size());
    }

    @Test
    void invalidExtentsAndBlockSizesAreRefused() {
        assertThatThrownBy(() -> ExtentSet.of(-1, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ExtentSet.of(5, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ExtentSet.of(0, 3).alignOut(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ExtentSet.of(0, Long.MAX_VALUE - 1).alignOut(4))
                .isInstanceOf(ArithmeticException.class);
        assertThatThrownBy(() -> ExtentSet.empty().min()).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void shiftMovesEveryExtentAndRefusesNegativeOffsets() {
        ExtentSet set = ExtentSet.of(new Extent(10, 20), new Extent(30, 40));
        assertThat(set.shift(5)).isEqualTo(ExtentSet.of(new Extent(15, 25), new Extent(35, 45)));
        assertThatThrownBy(() -> set.shift(-11)).isInstanceOf(IllegalArgumentException.class);
    }
}
