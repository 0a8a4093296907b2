package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;

class VhdReaderTest {
    private static final int MIB = TestImages.MIB;
    private static final int SIZE = 6 * MIB + 1024;
    private static final ExtentSet DATA = ExtentSet.builder()
            .add(512, 70_000)
            .add(4L * MIB + 3 * 512, 6L * MIB + 512)
            .build();
    private static final byte PARENT = (byte) 0xEE;
    /** A one-block disk for the tests that read an image thousands of times. */
    private static final int SMALL = MIB + 3 * 512;

    private static final ExtentSet SMALL_DATA =
            ExtentSet.builder().add(512, 5000).add(SMALL - 1024, SMALL).build();

    private static byte[] smallVhd(VhdDiskType type) throws IOException {
        return TestImages.vhd(
                TestImages.disk(SMALL, SMALL_DATA, 3),
                AllocationMap.ofData(SMALL, SMALL_DATA),
                TestImages.options(type));
    }

    private static MemorySink readSmall(byte[] image, long length, int maxRead, long... cuts) throws IOException {
        MemorySink sink = new MemorySink(SMALL, PARENT);
        VhdReader.readStream(TestImages.channel(image, maxRead, cuts), length, sink, false);
        return sink;
    }

    @TempDir
    Path dir;

    private static byte[] disk() {
        return TestImages.disk(SIZE, DATA, 42);
    }

    private static byte[] vhd(VhdDiskType type) throws IOException {
        return TestImages.vhd(disk(), AllocationMap.ofData(SIZE, DATA), TestImages.options(type));
    }

    /** What a differencing import over a parent filled with PARENT gives: present blocks replaced. */
    private static byte[] expected(VhdDiskType type) {
        byte[] disk = disk();
        if (type != VhdDiskType.DIFFERENCING) {
            return disk;
        }
        byte[] result = new byte[SIZE];
        Arrays.fill(result, PARENT);
        for (int block : new int[] {0, 2, 3}) { // blocks touching DATA
            int start = block * 2 * MIB;
            int end = Math.min(start + 2 * MIB, SIZE);
            System.arraycopy(disk, start, result, start, end - start);
        }
        return result;
    }

    private MemorySink readFile(byte[] image) throws IOException {
        Path file = dir.resolve("image.vhd");
        Files.write(file, image);
        MemorySink sink = new MemorySink(SIZE, PARENT);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            VhdReader.readFile(channel, sink, false);
        }
        return sink;
    }

    private static MemorySink readStream(byte[] image, int maxRead, long... cuts) throws IOException {
        MemorySink sink = new MemorySink(SIZE, PARENT);
        VhdReader.readStream(TestImages.channel(image, maxRead, cuts), image.length, sink, false);
        return sink;
    }

    @ParameterizedTest
    @EnumSource(VhdDiskType.class)
    void fileAndStreamReadsGiveTheDisk(VhdDiskType type) throws Exception {
        byte[] image = vhd(type);
        MemorySink fromFile = readFile(image);
        assertThat(fromFile.data).isEqualTo(expected(type));
        assertThat(fromFile.flushed).isTrue();
        MemorySink fromStream = readStream(image, Integer.MAX_VALUE);
        assertThat(fromStream.data).isEqualTo(expected(type));
        MemorySink viaInputStream = new MemorySink(SIZE, PARENT);
        VhdReader.Result result =
                VhdReader.readStream(new ByteArrayInputStream(image), image.length, viaInputStream, false);
        assertThat(viaInputStream.data).isEqualTo(expected(type));
        assertThat(result.diskType()).isEqualTo(type);
        assertThat(result.virtualSize()).isEqualTo(SIZE);
    }

    @ParameterizedTest
    @EnumSource(VhdDiskType.class)
    void streamSplitAtEveryPointOfTheMetadataAndSampledInTheDataGivesTheDisk(VhdDiskType type) throws Exception {
        byte[] image = smallVhd(type);
        byte[] expected = readSmall(image, image.length, Integer.MAX_VALUE).data;
        assertThat(Arrays.copyOf(expected, SMALL)).isNotEqualTo(new byte[SMALL]);
        for (int cut = 1; cut < image.length; cut = nextCut(cut, image.length)) {
            assertThat(readSmall(image, image.length, Integer.MAX_VALUE, cut).data)
                    .as("cut at %d", cut)
                    .isEqualTo(expected);
        }
    }

    /** Every point of footer copy, header, BAT, locators, first bitmap and trailing footer; sampled elsewhere. */
    private static int nextCut(int cut, int length) {
        if (cut < 2100 || cut >= length - 520) {
            return cut + 1;
        }
        if (cut < 3600) {
            return cut + 3;
        }
        return Math.min(cut + 4099, length - 520);
    }

    @ParameterizedTest
    @EnumSource(VhdDiskType.class)
    void streamReadOneByteAtATimeGivesTheDisk(VhdDiskType type) throws Exception {
        assertThat(readStream(vhd(type), 1).data).isEqualTo(expected(type));
    }

    @ParameterizedTest
    @EnumSource(VhdDiskType.class)
    void everyTruncationIsACorruptImageNeverASuccess(VhdDiskType type) throws Exception {
        byte[] image = smallVhd(type);
        for (int length = 0;
                length < image.length;
                length = length < 2100 || length > image.length - 600
                        ? length + 1
                        : length + (length < 3600 ? 3 : 4093)) {
            byte[] truncated = Arrays.copyOf(image, length);
            MemorySink sink = new MemorySink(SMALL, PARENT);
            assertThatThrownBy(() ->
                            VhdReader.readStream(TestImages.channel(truncated, 65536), truncated.length, sink, false))
                    .as("length %d", length)
                    .isInstanceOf(CorruptImageException.class);
            assertThat(sink.flushed).isFalse();
            if (length % 7 == 0 || length > image.length - 600) {
                // The stream is shorter than the length the sender promised.
                MemorySink promised = new MemorySink(SMALL, PARENT);
                assertThatThrownBy(() -> VhdReader.readStream(
                                TestImages.channel(truncated, 65536), image.length, promised, false))
                        .isInstanceOf(CorruptImageException.class)
                        .hasMessageContaining("end of stream");
                assertThat(promised.flushed).isFalse();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(VhdDiskType.class)
    void trailingGarbageIsACorruptImage(VhdDiskType type) throws Exception {
        byte[] image = vhd(type);
        for (int extra : new int[] {1, 511, 512, 513, 4096}) {
            byte[] longer = Arrays.copyOf(image, image.length + extra);
            Arrays.fill(longer, image.length, longer.length, (byte) 0x42);
            if (type == VhdDiskType.FIXED) {
                // A fixed stream's size comes from its length: it no longer fits the target.
                assertThatThrownBy(() -> readStream(longer, 1 << 16)).hasMessageContaining("the target has");
            } else {
                assertThatThrownBy(() -> readStream(longer, 1 << 16)).isInstanceOf(CorruptImageException.class);
            }
            assertThatThrownBy(() -> readFile(longer)).isInstanceOf(CorruptImageException.class);
            // The declared length is right but the peer keeps sending.
            MemorySink sink = new MemorySink(SIZE, PARENT);
            assertThatThrownBy(
                            () -> VhdReader.readStream(TestImages.channel(longer, 1 << 16), image.length, sink, false))
                    .isInstanceOf(CorruptImageException.class)
                    .hasMessageContaining("end at the declared length");
        }
    }

    @Test
    void onlySectorsWithTheirBitmapBitSetAreWritten() throws Exception {
        for (VhdDiskType type : new VhdDiskType[] {VhdDiskType.DYNAMIC, VhdDiskType.DIFFERENCING}) {
            byte[] image = vhd(type);
            VhdFooter footer = VhdFooter.decode(Arrays.copyOfRange(image, image.length - 512, image.length));
            VhdDynamicHeader header = VhdDynamicHeader.decode(Arrays.copyOfRange(image, 512, 1536));
            long bitmapOffset = Integer.toUnsignedLong(ByteBuffer.wrap(image, (int) header.tableOffset(), 4)
                            .getInt())
                    * 512;
            // Block 0: clear sector 0 (MSB of byte 0) and sectors 8..15 (byte 1).
            image[(int) bitmapOffset] = 0x7F;
            image[(int) bitmapOffset + 1] = 0;
            byte[] expected = expected(type);
            byte fill = type == VhdDiskType.DIFFERENCING ? PARENT : 0;
            Arrays.fill(expected, 0, 512, fill);
            Arrays.fill(expected, 8 * 512, 16 * 512, fill);
            assertThat(readFile(image).data).as("%s file", type).isEqualTo(expected);
            assertThat(readStream(image, 1 << 16).data).as("%s stream", type).isEqualTo(expected);
            assertThat(footer.diskType()).contains(type);
        }
    }

    @Test
    void blocksInAnyFileOrderAreReadFromFileAndStream() throws Exception {
        byte[] image = vhd(VhdDiskType.DYNAMIC);
        // Swap the physical places of the first two present blocks (virtual 0 and 2) and their BAT entries.
        int stride = 512 + 2 * MIB;
        int first = 2048;
        byte[] swapped = image.clone();
        System.arraycopy(image, first, swapped, first + stride, stride);
        System.arraycopy(image, first + stride, swapped, first, stride);
        ByteBuffer bat = ByteBuffer.wrap(swapped);
        int entry0 = bat.getInt(1536);
        bat.putInt(1536, bat.getInt(1536 + 8));
        bat.putInt(1536 + 8, entry0);
        assertThat(readFile(swapped).data).isEqualTo(disk());
        assertThat(readStream(swapped, 1 << 16).data).isEqualTo(disk());
    }

    @Test
    void aBatAfterTheBlocksIsReadFromAFileButRejectedOnAStreamBeforeAnyWrite() throws Exception {
        byte[] image = vhd(VhdDiskType.DYNAMIC);
        // Move the BAT to a new sector before the trailing footer.
        byte[] moved = Arrays.copyOf(image, image.length + 512);
        int newBat = image.length - 512;
        System.arraycopy(image, 1536, moved, newBat, 512);
        System.arraycopy(image, image.length - 512, moved, moved.length - 512, 512);
        Arrays.fill(moved, 1536, 2048, (byte) 0);
        VhdDynamicHeader header = VhdDynamicHeader.decode(Arrays.copyOfRange(image, 512, 1536));
        VhdDynamicHeader relocated = new VhdDynamicHeader(
                header.cookie(),
                header.dataOffset(),
                newBat,
                header.headerVersion(),
                header.maxTableEntries(),
                header.blockSize(),
                0,
                header.parentUniqueId(),
                header.parentTimestamp(),
                header.parentUnicodeName(),
                header.parentLocators());
        System.arraycopy(relocated.encode(), 0, moved, 512, 1024);
        assertThat(readFile(moved).data).isEqualTo(disk());
        MemorySink sink = new MemorySink(SIZE, PARENT);
        assertThatThrownBy(() -> VhdReader.readStream(TestImages.channel(moved, 1 << 16), moved.length, sink, false))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("forward-only stream")
                .hasMessageContaining("from seekable storage");
        assertThat(sink.bytesWritten + sink.bytesZeroed).isZero();
    }

    @Test
    void overlappingBlocksAreReportedWithBothRanges() throws Exception {
        byte[] image = vhd(VhdDiskType.DYNAMIC);
        ByteBuffer bat = ByteBuffer.wrap(image);
        bat.putInt(1536 + 8, bat.getInt(1536) + 1); // block 2 starts one sector into block 0
        assertThatThrownBy(() -> readFile(image))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("block 2: actual [2560, ")
                .hasMessageContaining("overlapping block 0");
    }

    @Test
    void differingFooterCopyIsReportedAtTheFirstDifferingByte() throws Exception {
        byte[] image = vhd(VhdDiskType.DYNAMIC);
        VhdFooter footer = VhdFooter.decode(Arrays.copyOf(image, 512));
        VhdFooter other = new VhdFooter(
                footer.cookie(),
                footer.features(),
                footer.formatVersion(),
                footer.dataOffset(),
                footer.timestamp() + 1,
                footer.creatorApplication(),
                footer.creatorVersion(),
                footer.creatorHostOs(),
                footer.originalSize(),
                footer.currentSize(),
                footer.geometry(),
                footer.diskTypeCode(),
                0,
                footer.uniqueId(),
                footer.savedState());
        System.arraycopy(other.encode(), 0, image, 0, 512);
        assertThatThrownBy(() -> readFile(image))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageStartingWith("offset 27: footer copy byte 27:");
        assertThatThrownBy(() -> readStream(image, 1 << 16))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("footer copy byte 27");
    }

    @Test
    void aTargetSmallerThanTheDiskIsRefusedBeforeWriting() throws Exception {
        byte[] image = vhd(VhdDiskType.DYNAMIC);
        MemorySink small = new MemorySink(SIZE - 512, PARENT);
        assertThatThrownBy(() -> VhdReader.readStream(TestImages.channel(image, 1 << 16), image.length, small, false))
                .hasMessageContaining("the target has");
        assertThat(small.bytesWritten + small.bytesZeroed).isZero();
    }

    @Test
    void aPrezeroedTargetGetsNoZeroWrites() throws Exception {
        byte[] image = vhd(VhdDiskType.DYNAMIC);
        MemorySink sink = new MemorySink(SIZE, (byte) 0);
        VhdReader.Result result = VhdReader.readStream(TestImages.channel(image, 1 << 20), image.length, sink, true);
        assertThat(sink.data).isEqualTo(disk());
        assertThat(result.bytesZeroed()).isZero();
        assertThat(result.bytesWritten()).isLessThan(DATA.totalLength() + 2 * 4096);
    }
}
