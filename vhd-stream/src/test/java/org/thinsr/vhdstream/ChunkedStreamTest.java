package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.ExtentSet;

class ChunkedStreamTest {
    private static RawMemoryDisk smallDisk() {
        return RawMemoryDisk.random(
                new Random(11),
                3000,
                ExtentSet.of(0, 5).union(ExtentSet.of(700, 1500)).union(ExtentSet.of(2999, 3000)));
    }

    private static byte[] encode(RawMemoryDisk disk, boolean full, int maxChunk) throws IOException {
        ChunkedEncoder encoder = new ChunkedEncoder(disk.allocationMap(), disk, full, maxChunk);
        byte[] bytes = RawTestStreams.bytesOf(encoder::writeTo);
        assertThat((long) bytes.length).isEqualTo(encoder.length());
        return bytes;
    }

    @Test
    void layoutIsOffsetLengthLittleEndianThenTwelveZeroBytes() throws IOException {
        byte[] disk = new byte[1000];
        disk[600] = 7;
        RawMemoryDisk source =
                new RawMemoryDisk(disk, org.thinsr.allocmap.AllocationMap.ofData(1000, ExtentSet.of(512, 700)));
        byte[] stream = encode(source, false, 100);
        ByteBuffer view = ByteBuffer.wrap(stream).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(view.getLong(0)).isEqualTo(512);
        assertThat(view.getInt(8)).isEqualTo(100);
        assertThat(view.getLong(112)).isEqualTo(612);
        assertThat(view.getInt(120)).isEqualTo(88);
        assertThat(stream).hasSize(12 + 100 + 12 + 88 + 12);
        assertThat(Arrays.copyOfRange(stream, stream.length - 12, stream.length))
                .containsOnly(0);
        assertThat(stream[12 + 88]).isEqualTo((byte) 7); // disk byte 600 = piece 512 + 88
        assertThat(source.readRanges()).isEqualTo(ExtentSet.of(512, 700));
    }

    @Test
    void roundTripsUnderEveryChunkingOfTheInput() throws IOException {
        RawMemoryDisk disk = smallDisk();
        for (boolean full : new boolean[] {false, true}) {
            byte[] stream = encode(disk, full, 256);
            List<InputStream> inputs = new ArrayList<>();
            inputs.add(RawTestStreams.whole(stream));
            inputs.add(RawTestStreams.inPieces(stream, 1));
            for (int split = 0; split <= stream.length; split++) {
                inputs.add(RawTestStreams.splitAt(stream, split));
            }
            for (InputStream input : inputs) {
                RawMemoryDisk target = RawMemoryDisk.zeros(3000);
                assertThat(new ChunkedDecoder(256).decode(input, target)).isEqualTo(3000);
                assertThat(target.bytes).isEqualTo(disk.bytes);
            }
        }
    }

    @Test
    void everyRangeSplitConcatenatesToTheWholeStream() throws IOException {
        RawMemoryDisk disk = smallDisk();
        byte[] whole = encode(disk, false, 256);
        ChunkedEncoder encoder = new ChunkedEncoder(disk.allocationMap(), disk, false, 256);
        for (int split = 0; split <= whole.length; split++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            encoder.writeRange(0, split, out);
            encoder.writeRange(split, whole.length, out);
            assertThat(out.toByteArray()).as("split %s", split).isEqualTo(whole);
        }
        for (int from = 0; from < whole.length; from += 37) {
            for (int to = from; to <= whole.length; to += 53) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                encoder.writeRange(from, to, out);
                assertThat(out.toByteArray()).isEqualTo(Arrays.copyOfRange(whole, from, to));
            }
        }
    }

    @Test
    void planZeroRunsAreCarriedAsZeroBytesWithoutReadingTheSource() throws IOException {
        RawMemoryDisk disk = smallDisk();
        ExtentSet data = ExtentSet.of(700, 1500);
        ExtentSet zeros = ExtentSet.of(5, 300).union(ExtentSet.of(1500, 1600));
        List<long[]> carried = new ArrayList<>();
        ChunkedEncoder encoder = new ChunkedEncoder(3000, data, zeros, disk, 256)
                .pieces((offset, length, zero) -> carried.add(new long[] {offset, length, zero ? 1 : 0}));
        byte[] stream = RawTestStreams.bytesOf(encoder::writeTo);
        // pieces: [5,261) [261,300) zero; [700,956) [956,1212) [1212,1468) [1468,1500) data; [1500,1600) zero
        assertThat(encoder.length()).isEqualTo(1195L + 7 * 12 + 12).isEqualTo(stream.length);
        assertThat(encoder.payloadBytes()).isEqualTo(1195);
        assertThat(disk.readRanges()).isEqualTo(data);
        assertThat(carried)
                .extracting(piece -> List.of(piece[0], piece[1], piece[2]))
                .containsExactly(
                        List.of(5L, 256L, 1L),
                        List.of(261L, 39L, 1L),
                        List.of(700L, 256L, 0L),
                        List.of(956L, 256L, 0L),
                        List.of(1212L, 256L, 0L),
                        List.of(1468L, 32L, 0L),
                        List.of(1500L, 100L, 1L));
        byte[] garbage = new byte[3000];
        Arrays.fill(garbage, (byte) 0x5a);
        RawMemoryDisk target = new RawMemoryDisk(garbage, null);
        new ChunkedDecoder(256).decode(RawTestStreams.whole(stream), target);
        for (int i = 0; i < 3000; i++) {
            byte expected = data.contains(i) ? disk.bytes[i] : zeros.contains(i) ? 0 : (byte) 0x5a;
            assertThat(target.bytes[i]).as("byte %s", i).isEqualTo(expected);
        }
        assertThatThrownBy(() -> new ChunkedEncoder(3000, data, ExtentSet.of(1400, 1600), disk, 256))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overlap");
    }

    @Test
    void chunksInAnyOrderAndZeroLengthChunksAreAccepted() throws IOException {
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        chunk(stream, 20, new byte[] {3, 3});
        chunk(stream, 5, new byte[0]);
        chunk(stream, 0, new byte[] {1, 2});
        chunk(stream, 21, new byte[] {4}); // overlaps: later wins
        stream.write(new byte[12]);
        RawMemoryDisk target = RawMemoryDisk.zeros(30);
        assertThat(new ChunkedDecoder().decode(RawTestStreams.whole(stream.toByteArray()), target))
                .isEqualTo(22);
        assertThat(target.bytes[0]).isEqualTo((byte) 1);
        assertThat(target.bytes[1]).isEqualTo((byte) 2);
        assertThat(target.bytes[20]).isEqualTo((byte) 3);
        assertThat(target.bytes[21]).isEqualTo((byte) 4);
    }

    @Test
    void allZeroChunksBecomeWriteZeroes() throws IOException {
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        chunk(stream, 8, new byte[16]);
        stream.write(new byte[12]);
        RawMemoryDisk target = RawMemoryDisk.zeros(30);
        new ChunkedDecoder().decode(RawTestStreams.whole(stream.toByteArray()), target);
        assertThat(target.zeroedRanges()).isEqualTo(ExtentSet.of(8, 24));
    }

    @Test
    void everyTruncationIsCorruptInput() throws IOException {
        byte[] stream = encode(smallDisk(), false, 256);
        for (int length = 0; length < stream.length; length++) {
            byte[] truncated = Arrays.copyOf(stream, length);
            assertThatThrownBy(() ->
                            new ChunkedDecoder().decode(RawTestStreams.whole(truncated), RawMemoryDisk.zeros(3000)))
                    .as("truncated to %s", length)
                    .isInstanceOf(CorruptImageException.class)
                    .hasMessageStartingWith("offset ");
        }
    }

    @Test
    void trailingGarbageAfterTheTerminatorIsRejected() throws IOException {
        byte[] stream = encode(smallDisk(), false, 256);
        byte[] longer = Arrays.copyOf(stream, stream.length + 1);
        assertThatThrownBy(() -> new ChunkedDecoder().decode(RawTestStreams.whole(longer), RawMemoryDisk.zeros(3000)))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage(
                        "offset " + stream.length + ": byte after the terminator: actual 0x0, expected end of input");
    }

    @Test
    void oversizedOrOutOfDiskChunksAreRejectedBeforeReadingThem() throws IOException {
        ByteArrayOutputStream huge = new ByteArrayOutputStream();
        header(huge, 0, 0xffff_ffffL);
        assertThatThrownBy(() ->
                        new ChunkedDecoder().decode(RawTestStreams.whole(huge.toByteArray()), RawMemoryDisk.zeros(10)))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage("offset 8: chunk length: actual 4294967295, expected at most "
                        + ChunkedDecoder.DEFAULT_MAX_CHUNK);
        ByteArrayOutputStream past = new ByteArrayOutputStream();
        header(past, 8, 4);
        assertThatThrownBy(() ->
                        new ChunkedDecoder().decode(RawTestStreams.whole(past.toByteArray()), RawMemoryDisk.zeros(10)))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage(
                        "offset 0: chunk end on the disk (offset 8 + length 4): actual 12, expected at most the disk size 10");
        ByteArrayOutputStream negative = new ByteArrayOutputStream();
        header(negative, -1, 4);
        assertThatThrownBy(() -> new ChunkedDecoder()
                        .decode(RawTestStreams.whole(negative.toByteArray()), RawMemoryDisk.zeros(10)))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage("offset 0: chunk disk offset: actual 18446744073709551615, expected below 2^63");
    }

    @Test
    void randomDisksRoundTripWithXapiPieceSize() throws IOException {
        long seed = Long.getLong("thinsr.seed", System.nanoTime()); // rerun with -Dthinsr.seed=N
        System.out.println("ChunkedStreamTest seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 5; round++) {
            int size = random.nextInt(6 << 20);
            RawMemoryDisk disk =
                    RawMemoryDisk.random(random, size, RawMemoryDisk.randomExtents(random, size, 0.4, 3 << 20));
            byte[] stream = encode(disk, false, ChunkedEncoder.DEFAULT_MAX_CHUNK);
            RawMemoryDisk target = RawMemoryDisk.zeros(size);
            new ChunkedDecoder().decode(RawTestStreams.inPieces(stream, 1 + random.nextInt(70_000)), target);
            assertThat(target.bytes).as("seed %s", seed).isEqualTo(disk.bytes);
        }
    }

    static void header(ByteArrayOutputStream out, long offset, long length) {
        ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(offset).putInt((int) length);
        out.writeBytes(header.array());
    }

    static void chunk(ByteArrayOutputStream out, long offset, byte[] data) {
        header(out, offset, data.length);
        out.writeBytes(data);
    }
}
