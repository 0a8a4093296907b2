package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.ExtentSet;

/**
 * Thousands of seeded single-byte and field-level mutations of valid VHDs (fixed, dynamic,
 * differencing). Each read must end in a clean {@link CorruptImageException} or in success whose
 * output is what an independent, naive decoder of the mutated bytes gives — never another
 * exception, a hang or a success with other bytes. Set {@code -Dvhd.fuzz.seed=N} to replay.
 */
class VhdMutationFuzzTest {
    private static final int MIB = 1 << 20;
    private static final int SIZE = 2 * MIB + 5 * 512;
    private static final int CAP = 8 * MIB;
    private static final byte PARENT = (byte) 0xEE;
    private static final int MUTATIONS_PER_IMAGE = 1500;

    @TempDir
    Path dir;

    @Test
    void mutatedImagesAreDecodedConsistentlyOrRejectedCleanly() throws Exception {
        long seed = Long.getLong("vhd.fuzz.seed", System.nanoTime());
        System.out.println("VhdMutationFuzzTest seed " + seed + " (replay with -Dvhd.fuzz.seed=" + seed + ")");
        Random random = new Random(seed);
        ExtentSet data = ExtentSet.builder()
                .add(0, 700)
                .add(MIB + 4096, MIB + 9000)
                .add(SIZE - 512, SIZE)
                .build();
        byte[] disk = TestImages.disk(SIZE, data, seed);
        long started = System.nanoTime();
        int rejected = 0;
        int accepted = 0;
        for (VhdDiskType type : VhdDiskType.values()) {
            byte[] original = TestImages.vhd(disk, AllocationMap.ofData(SIZE, data), TestImages.options(type));
            for (int i = 0; i < MUTATIONS_PER_IMAGE; i++) {
                byte[] mutated = original.clone();
                String mutation = mutate(mutated, type, random);
                boolean viaFile = i % 25 == 0;
                long t0 = System.nanoTime();
                FuzzSink sink = new FuzzSink();
                try {
                    VhdReader.Result result = viaFile ? readFile(mutated, sink) : readStream(mutated, sink);
                    accepted++;
                    Reference expected = Reference.decode(mutated, sink.base());
                    assertThat(result.virtualSize())
                            .as("%s %s seed %d", type, mutation, seed)
                            .isEqualTo(expected.size);
                    assertThat(sink.flushed).isTrue();
                    int compared = (int) Math.min(expected.size, CAP);
                    int differs =
                            Arrays.mismatch(Arrays.copyOf(sink.data, compared), Arrays.copyOf(expected.data, compared));
                    assertThat(differs)
                            .as("%s %s seed %d: first differing byte", type, mutation, seed)
                            .isEqualTo(-1);
                } catch (CorruptImageException e) {
                    rejected++;
                    assertThat(e.getMessage()).as(mutation).startsWith("offset ");
                    assertThat(sink.flushed).isFalse();
                }
                long millis = (System.nanoTime() - t0) / 1_000_000;
                assertThat(millis)
                        .as("%s %s seed %d took", type, mutation, seed)
                        .isLessThan(5_000);
            }
        }
        long seconds = (System.nanoTime() - started) / 1_000_000_000L;
        System.out.println(
                "VhdMutationFuzzTest: " + accepted + " decoded, " + rejected + " rejected in " + seconds + " s");
        // each input has its own 5 s bound above; this one only catches a run-away loop (generous:
        // the run took 73 s on a machine loaded by four parallel builds, 22 s in a CI check run)
        assertThat(seconds).isLessThan(300);
        assertThat(rejected).isGreaterThan(MUTATIONS_PER_IMAGE);
        assertThat(accepted).isGreaterThan(MUTATIONS_PER_IMAGE / 2);
    }

    private VhdReader.Result readFile(byte[] image, FuzzSink sink) throws IOException {
        Path file = dir.resolve("fuzz.vhd");
        Files.write(file, image);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return VhdReader.readFile(channel, sink, false);
        }
    }

    private static VhdReader.Result readStream(byte[] image, FuzzSink sink) throws IOException {
        return VhdReader.readStream(TestImages.channel(image, 1 << 20), image.length, sink, false);
    }

    /** Mutates {@code image} in place and says how. */
    private static String mutate(byte[] image, VhdDiskType type, Random random) {
        int length = image.length;
        if (random.nextBoolean()) {
            int position;
            int region = random.nextInt(10);
            if (type == VhdDiskType.FIXED || region < 2) {
                position = region < 5 ? length - 1 - random.nextInt(512) : random.nextInt(length);
            } else if (region < 7) {
                position = random.nextInt(Math.min(length, 4096 + 1024));
            } else {
                position = length - 1 - random.nextInt(512);
            }
            byte value = (byte) random.nextInt(256);
            image[position] = value;
            return "byte " + position + " = " + (value & 0xFF);
        }
        List<int[]> fields = new ArrayList<>(); // {offset, width}
        int[][] footerFields = {{16, 8}, {40, 8}, {48, 8}, {56, 4}, {60, 4}, {12, 4}, {0, 8}};
        int[] footerBases = type == VhdDiskType.FIXED ? new int[] {length - 512} : new int[] {0, length - 512};
        for (int base : footerBases) {
            for (int[] field : footerFields) {
                fields.add(new int[] {base + field[0], field[1], base, 64});
            }
        }
        if (type != VhdDiskType.FIXED) {
            int[][] headerFields = {{8, 8}, {16, 8}, {24, 4}, {28, 4}, {32, 4}, {576, 4}, {580, 4}, {584, 4}, {592, 8}};
            for (int[] field : headerFields) {
                fields.add(new int[] {512 + field[0], field[1], 512, 36});
            }
            for (int entry = 0; entry < 3; entry++) {
                fields.add(new int[] {1536 + 4 * entry, 4, -1, 0});
            }
        }
        int[] field = fields.get(random.nextInt(fields.size()));
        ByteBuffer buffer = ByteBuffer.wrap(image);
        long old = field[1] == 8 ? buffer.getLong(field[0]) : Integer.toUnsignedLong(buffer.getInt(field[0]));
        long[] interesting = {
            0,
            1,
            511,
            512,
            513,
            1024,
            1536,
            2048,
            4096,
            -1,
            0xFFFFFFFFL,
            0x7FFFFFFFL,
            1L << 31,
            1L << 32,
            old + 1,
            old - 1,
            old * 2,
            old / 2,
            old + 512,
            old - 512,
            old + 4096,
            1L << random.nextInt(63),
            random.nextLong(),
            length,
            length - 512,
            length + 512,
            SIZE,
            2040L << 30,
            (2040L << 30) + 512
        };
        long value = interesting[random.nextInt(interesting.length)];
        if (field[1] == 8) {
            buffer.putLong(field[0], value);
        } else {
            buffer.putInt(field[0], (int) value);
        }
        boolean fixChecksum = field[2] >= 0 && random.nextInt(4) != 0;
        if (fixChecksum) {
            int structureLength = field[2] == 512 ? 1024 : 512;
            byte[] structure = Arrays.copyOfRange(image, field[2], field[2] + structureLength);
            buffer.putInt(field[2] + field[3], VhdFormat.checksum(structure, field[3]));
        }
        return "field at " + field[0] + " (" + field[1] + " bytes) " + old + " -> " + value
                + (fixChecksum ? " with checksum fixed" : "");
    }

    /** A sink as large as any VHD may be; keeps the first CAP bytes. */
    private static final class FuzzSink implements BlockSink {
        final byte[] data = new byte[CAP];
        boolean flushed;

        FuzzSink() {
            Arrays.fill(data, PARENT);
        }

        byte[] base() {
            return data.clone();
        }

        @Override
        public long size() {
            return 2040L << 30;
        }

        @Override
        public void write(long offset, ByteBuffer buffer) throws IOException {
            if (offset < 0 || offset + buffer.remaining() > size()) {
                throw new IOException("write outside the disk");
            }
            while (buffer.hasRemaining()) {
                long at = offset++;
                byte b = buffer.get();
                if (at < CAP) {
                    data[(int) at] = b;
                }
            }
        }

        @Override
        public void writeZeroes(long offset, long length) throws IOException {
            if (offset < 0 || length < 0 || offset + length > size()) {
                throw new IOException("zeroes outside the disk");
            }
            if (offset < CAP) {
                Arrays.fill(data, (int) offset, (int) Math.min(CAP, offset + length), (byte) 0);
            }
        }

        @Override
        public void flush() {
            flushed = true;
        }

        @Override
        public void close() {}
    }

    /** A naive decoder that trusts the image (only run on images the reader accepted). */
    private static final class Reference {
        final long size;
        final byte[] data;

        Reference(long size, byte[] data) {
            this.size = size;
            this.data = data;
        }

        static Reference decode(byte[] image, byte[] base) {
            ByteBuffer buffer = ByteBuffer.wrap(image);
            int footer = image.length - 512;
            long size = buffer.getLong(footer + 48);
            int type = buffer.getInt(footer + 60);
            byte[] data = new byte[CAP];
            if (type == 2) {
                System.arraycopy(image, 0, data, 0, (int) Math.min(size, CAP));
                return new Reference(size, data);
            }
            byte[] parent = base.clone(); // the untouched target (differencing keeps it)
            System.arraycopy(type == 4 ? parent : new byte[CAP], 0, data, 0, CAP);
            int header = (int) buffer.getLong(footer + 16);
            int table = (int) buffer.getLong(header + 16);
            int blockSize = buffer.getInt(header + 32);
            int bitmapSize = Math.max(512, (blockSize / 512 / 8 + 511) / 512 * 512);
            long blocks = (size + blockSize - 1) / blockSize;
            for (int i = 0; i < blocks; i++) {
                int entry = buffer.getInt(table + 4 * i);
                if (entry == -1) {
                    continue;
                }
                long bitmap = Integer.toUnsignedLong(entry) * 512;
                for (int sector = 0; sector < blockSize / 512; sector++) {
                    long virtual = (long) i * blockSize + (long) sector * 512;
                    if (virtual >= size || virtual >= CAP) {
                        break;
                    }
                    boolean set = (image[(int) (bitmap + sector / 8)] & (0x80 >>> (sector % 8))) != 0;
                    if (set) {
                        System.arraycopy(image, (int) (bitmap + bitmapSize + sector * 512L), data, (int) virtual, 512);
                    }
                }
            }
            return new Reference(size, data);
        }
    }
}
