package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.ExtentSet;

/**
 * Seeded mutation fuzzing of the tar and chunked readers: flipped bytes, overwritten fields,
 * inserted and deleted bytes, truncations. Every outcome must be success (the mutation hit
 * padding or an unchecked field) or {@link CorruptImageException} with an offset; never another
 * exception, a hang or an allocation beyond the bounds. Prints its seed; runs a few seconds.
 */
class TarChunkedFuzzTest {
    private static final int ROUNDS = 20_000;

    @Test
    void mutatedTarsFailOnlyWithCorruptInput() throws IOException {
        long seed = System.nanoTime();
        System.out.println("TarChunkedFuzzTest tar seed " + seed);
        Random random = new Random(seed);
        RawMemoryDisk disk = RawMemoryDisk.random(
                random, 9 * 512 + 100, ExtentSet.of(600, 2000).union(ExtentSet.of(4000, 4100)));
        TarPlan plan = TarPlan.plan(disk.allocationMap(), "vdi/", TarChecksum.XXHASH, 512, 12345);
        byte[] tar = RawTestStreams.bytesOf(new TarWriter(plan, disk)::writeTo);
        int failures = 0;
        for (int round = 0; round < ROUNDS; round++) {
            byte[] mutated = mutate(random, tar);
            RawMemoryDisk target = RawMemoryDisk.zeros(disk.bytes.length);
            try {
                new TarReader("vdi/", true, TarReader.Target.DIRTY, 1 << 16)
                        .read(RawTestStreams.inPieces(mutated, 1 + random.nextInt(700)), target, true);
                // accepted: the checksums held, so the data must be the original
                assertThat(target.bytes).as("seed %s round %s", seed, round).isEqualTo(disk.bytes);
            } catch (CorruptImageException e) {
                assertThat(e.getMessage()).as("seed %s round %s", seed, round).startsWith("offset ");
                failures++;
            }
        }
        assertThat(failures).as("seed %s: most mutations must be caught", seed).isGreaterThan(ROUNDS / 2);
    }

    @Test
    void mutatedChunkedStreamsFailOnlyWithCorruptInput() throws IOException {
        long seed = System.nanoTime();
        System.out.println("TarChunkedFuzzTest chunked seed " + seed);
        Random random = new Random(seed);
        RawMemoryDisk disk =
                RawMemoryDisk.random(random, 5000, ExtentSet.of(0, 300).union(ExtentSet.of(1000, 2500)));
        byte[] stream = RawTestStreams.bytesOf(new ChunkedEncoder(disk.allocationMap(), disk, false, 400)::writeTo);
        int failures = 0;
        for (int round = 0; round < ROUNDS; round++) {
            byte[] mutated = mutate(random, stream);
            RawMemoryDisk target = RawMemoryDisk.zeros(disk.bytes.length);
            try {
                long end = new ChunkedDecoder(1 << 16)
                        .decode(RawTestStreams.inPieces(mutated, 1 + random.nextInt(700)), target);
                assertThat(end).isBetween(0L, (long) disk.bytes.length);
            } catch (CorruptImageException e) {
                assertThat(e.getMessage()).as("seed %s round %s", seed, round).startsWith("offset ");
                failures++;
            }
        }
        assertThat(failures).as("seed %s", seed).isGreaterThan(ROUNDS / 4);
    }

    private static byte[] mutate(Random random, byte[] original) {
        byte[] bytes = original.clone();
        int kind = random.nextInt(6);
        switch (kind) {
            case 0 -> bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
            case 1 -> {
                for (int i = 0; i < 1 + random.nextInt(8); i++) {
                    bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
                }
            }
            case 2 -> {
                return Arrays.copyOf(bytes, random.nextInt(bytes.length));
            }
            case 3 -> {
                int at = random.nextInt(bytes.length);
                byte[] longer = new byte[bytes.length + 1 + random.nextInt(16)];
                System.arraycopy(bytes, 0, longer, 0, at);
                for (int i = at; i < at + longer.length - bytes.length; i++) {
                    longer[i] = (byte) random.nextInt(256);
                }
                System.arraycopy(bytes, at, longer, at + longer.length - bytes.length, bytes.length - at);
                return longer;
            }
            case 4 -> {
                int at = random.nextInt(bytes.length);
                int count = Math.min(bytes.length - at, 1 + random.nextInt(16));
                byte[] shorter = new byte[bytes.length - count];
                System.arraycopy(bytes, 0, shorter, 0, at);
                System.arraycopy(bytes, at + count, shorter, at, bytes.length - at - count);
                return shorter;
            }
            default -> {
                // a field-sized overwrite with 0xff: big lengths, bad offsets, bad octal
                int at = random.nextInt(bytes.length);
                Arrays.fill(bytes, at, Math.min(bytes.length, at + 1 + random.nextInt(12)), (byte) 0xff);
            }
        }
        return bytes;
    }
}
