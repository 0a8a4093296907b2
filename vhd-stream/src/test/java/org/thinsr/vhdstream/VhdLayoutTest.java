package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinsrException;

class VhdLayoutTest {
    private static final int MIB = TestImages.MIB;
    private static final int STRIDE = 512 + 2 * MIB;

    @Test
    void exportOfEmptyDiskIsFooterHeaderBatOnly() {
        VhdLayout layout = VhdLayout.plan(
                AllocationMap.ofData(10L * MIB, ExtentSet.empty()), TestImages.options(VhdDiskType.DYNAMIC));
        assertThat(layout.maxTableEntries()).isEqualTo(5);
        assertThat(layout.presentBlockCount()).isZero();
        assertThat(layout.length()).isEqualTo(512 + 1024 + 512 + 512);
        assertThat(layout.partAt(0)).isEqualTo(VhdLayout.Part.FOOTER_COPY);
        assertThat(layout.partAt(512)).isEqualTo(VhdLayout.Part.HEADER);
        assertThat(layout.partAt(1536)).isEqualTo(VhdLayout.Part.BAT);
        assertThat(layout.partAt(2047)).isEqualTo(VhdLayout.Part.BAT);
        assertThat(layout.partAt(2048)).isEqualTo(VhdLayout.Part.FOOTER);
    }

    @Test
    void blocksTouchingDataArePresentInAscendingOrderAfterTheBat() {
        // 129 entries: the BAT takes two sectors. Data touches blocks 0, 3, 4 and 128 (the last, partial).
        long size = 128L * 2 * MIB + 4096;
        ExtentSet data = ExtentSet.builder()
                .add(100, 200)
                .add(7L * MIB - 1, 8L * MIB + 1)
                .add(size - 512, size)
                .build();
        VhdLayout layout = VhdLayout.plan(AllocationMap.ofData(size, data), TestImages.options(VhdDiskType.DYNAMIC));
        assertThat(layout.maxTableEntries()).isEqualTo(129);
        assertThat(layout.firstBlockOffset()).isEqualTo(1536 + 1024);
        assertThat(layout.presentBlockCount()).isEqualTo(4);
        assertThat(new int[] {
                    layout.presentBlock(0), layout.presentBlock(1), layout.presentBlock(2), layout.presentBlock(3)
                })
                .containsExactly(0, 3, 4, 128);
        assertThat(layout.length()).isEqualTo(2560 + 4L * STRIDE + 512);
        assertThat(layout.batEntry(0)).isEqualTo(2560 / 512);
        assertThat(layout.batEntry(3)).isEqualTo((2560 + STRIDE) / 512);
        assertThat(layout.batEntry(1)).isEqualTo(0xFFFFFFFF);
        assertThat(layout.batEntry(128)).isEqualTo((int) ((2560 + 3L * STRIDE) / 512));
        assertThat(layout.partAt(2560)).isEqualTo(VhdLayout.Part.BITMAP);
        assertThat(layout.partAt(2560 + 511)).isEqualTo(VhdLayout.Part.BITMAP);
        assertThat(layout.partAt(2560 + 512)).isEqualTo(VhdLayout.Part.BLOCK_DATA);
        assertThat(layout.partAt(2560 + STRIDE)).isEqualTo(VhdLayout.Part.BITMAP);
        assertThat(layout.partAt(layout.length() - 513)).isEqualTo(VhdLayout.Part.BLOCK_DATA);
        assertThat(layout.partAt(layout.length() - 512)).isEqualTo(VhdLayout.Part.FOOTER);
    }

    @Test
    void footerCarriesTheExactSizeAndTheSpecGeometry() {
        long size = 100_000_256L;
        VhdLayout layout =
                VhdLayout.plan(AllocationMap.ofData(size, ExtentSet.empty()), TestImages.options(VhdDiskType.DYNAMIC));
        VhdFooter footer = VhdFooter.decode(layout.footer());
        assertThat(footer.currentSize()).isEqualTo(size);
        assertThat(footer.originalSize()).isEqualTo(size);
        assertThat(footer.geometry()).isEqualTo(VhdGeometry.of(size));
        assertThat(footer.creatorApplication()).isEqualTo("qem2");
        assertThat(footer.timestamp()).isEqualTo((int) (TestImages.TIME.getEpochSecond() - 946_684_800L));
    }

    @Test
    void sizeNotAMultipleOf512OrAbove2040GibIsRefused() {
        assertThatThrownBy(() -> VhdLayout.plan(
                        AllocationMap.ofData(1000, ExtentSet.empty()), TestImages.options(VhdDiskType.DYNAMIC)))
                .isInstanceOf(ThinsrException.class)
                .hasMessageContaining("not a multiple of 512");
        long tooBig = (2040L << 30) + 512;
        assertThatThrownBy(() -> VhdLayout.plan(
                        AllocationMap.ofData(tooBig, ExtentSet.empty()), TestImages.options(VhdDiskType.DYNAMIC)))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED))
                .hasMessageContaining("at most 2040 GiB");
        VhdLayout largest = VhdLayout.plan(
                AllocationMap.ofData(2040L << 30, ExtentSet.of((2040L << 30) - 512, 2040L << 30)),
                TestImages.options(VhdDiskType.DYNAMIC));
        assertThat(largest.maxTableEntries()).isEqualTo(1_044_480);
        assertThat(largest.presentBlock(0)).isEqualTo(1_044_479);
    }

    @Test
    void zeroScanLeavesOutDataBlocksThatReadAsZeros() throws Exception {
        int size = 8 * MIB;
        ExtentSet data = ExtentSet.builder()
                .add(0, 4 * MIB)
                .add(6L * MIB, 6L * MIB + 512)
                .build();
        byte[] disk = new byte[size];
        disk[6 * MIB + 7] = 1; // blocks 0 and 1 are "data" but all zeros; block 3 has one byte
        AllocationMap map = AllocationMap.ofData(size, data);
        ByteArraySource source = new ByteArraySource(disk);
        VhdLayout scanned = VhdLayout.plan(map, TestImages.options(VhdDiskType.DYNAMIC), source);
        assertThat(scanned.presentBlockCount()).isEqualTo(1);
        assertThat(scanned.presentBlock(0)).isEqualTo(3);
        assertThat(source.bytesRead).isEqualTo(4L * MIB + 512);
        VhdLayout unscanned =
                VhdLayout.plan(map, TestImages.options(VhdDiskType.DYNAMIC).withSkipZeroBlocks(false), source);
        assertThat(unscanned.presentBlockCount()).isEqualTo(3);
    }

    @Test
    void zeroScanReadsOnlyTheFirst4KibOfBlocksThatStartWithData() throws Exception {
        int size = 10 * MIB;
        byte[] disk = TestImages.disk(size, ExtentSet.of(0, size), 3);
        Arrays.fill(disk, 2 * MIB, 4 * MIB, (byte) 0);
        disk[4 * MIB - 1] = 1; // block 1: its only non-zero byte is its last
        Arrays.fill(disk, 4 * MIB, 6 * MIB, (byte) 0); // block 2: zeros
        Arrays.fill(disk, 6 * MIB, 6 * MIB + 8192, (byte) 0); // block 3: first extent's probe is zero ...
        ExtentSet data = ExtentSet.builder()
                .add(0, 7L * MIB)
                .add(7L * MIB + 4096, size) // ... the second extent's probe is not
                .build();
        ByteArraySource source = new ByteArraySource(disk);
        VhdLayout layout =
                VhdLayout.plan(AllocationMap.ofData(size, data), TestImages.options(VhdDiskType.DYNAMIC), source);
        assertThat(IntStream.range(0, layout.presentBlockCount()).map(layout::presentBlock))
                .containsExactly(0, 1, 3, 4);
        assertThat(source.bytesRead)
                .isEqualTo(
                        4096 // block 0: its probe
                                + 2L * MIB // block 1: probe, then the rest
                                + 2L * MIB // block 2: probe, then the rest
                                + 4096
                                + 4096 // block 3: the probes of its two extents
                                + 4096); // block 4: its probe
    }

    @Test
    void differencingIncludesBlocksChangedToZerosAndReadsTheirWholeContent() throws Exception {
        int size = 8 * MIB;
        AllocationMap delta = AllocationMap.builder(size)
                .add(0, 2L * MIB, State.HOLE, Provenance.LOCAL)
                .add(2L * MIB, 2L * MIB + 4096, State.ZERO, Provenance.LOCAL)
                .add(2L * MIB + 4096, 6L * MIB, State.HOLE, Provenance.LOCAL)
                .add(6L * MIB, 6L * MIB + 512, State.DATA, Provenance.LOCAL)
                .add(6L * MIB + 512, size, State.HOLE, Provenance.LOCAL)
                .build();
        ByteArraySource source = new ByteArraySource(new byte[size]);
        VhdLayout layout = VhdLayout.plan(delta, TestImages.options(VhdDiskType.DIFFERENCING), source);
        assertThat(layout.presentBlockCount()).isEqualTo(2);
        assertThat(layout.presentBlock(0)).isEqualTo(1);
        assertThat(layout.presentBlock(1)).isEqualTo(3);
        VhdDynamicHeader header = VhdDynamicHeader.decode(layout.headerBytes());
        assertThat(header.parentUnicodeName()).isEqualTo("parent.vhd");
        assertThat(header.parentLocators().get(0).platformName()).isEqualTo("W2ku");
        assertThat(header.parentLocators().get(0).dataOffset()).isEqualTo(2048);
        assertThat(header.parentLocators().get(1).dataOffset()).isEqualTo(2560);
        assertThat(layout.firstBlockOffset()).isEqualTo(3072);
        assertThat(layout.partAt(2048)).isEqualTo(VhdLayout.Part.PARENT_LOCATOR);
    }

    @Test
    void anyByteRangeEqualsTheSameSliceOfTheWholeImage() throws Exception {
        for (VhdDiskType type : VhdDiskType.values()) {
            int size = 6 * MIB + 1024;
            ExtentSet data = ExtentSet.builder()
                    .add(512, 70_000)
                    .add(4L * MIB + 3 * 512, 6L * MIB + 512)
                    .build();
            byte[] disk = TestImages.disk(size, data, 42);
            AllocationMap map = AllocationMap.ofData(size, data);
            ByteArraySource source = new ByteArraySource(disk);
            VhdLayout layout = VhdLayout.plan(map, TestImages.options(type), source);
            byte[] whole = TestImages.vhd(disk, map, TestImages.options(type));
            assertThat((long) whole.length).isEqualTo(layout.length());
            VhdWriter writer = new VhdWriter(layout, source);
            Random random = new Random(7);
            for (int i = 0; i < 300; i++) {
                long a = random.nextLong(layout.length() + 1);
                long b = a + random.nextLong(Math.min(3L * MIB, layout.length() - a) + 1);
                if (i < 40) { // structure boundaries
                    a = Math.max(
                            0,
                            Math.min(
                                    layout.length(),
                                    new long[] {0, 511, 512, 1535, 1536, 2047, 2048, 2560, 3072, 3584}[i % 10]
                                            + i / 10
                                            - 2));
                    b = Math.min(layout.length(), a + 1 + i * 37L);
                }
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                writer.write(Channels.newChannel(out), a, b);
                assertThat(out.toByteArray())
                        .as("%s [%d, %d)", type, a, b)
                        .isEqualTo(Arrays.copyOfRange(whole, (int) a, (int) b));
            }
        }
    }

    @Test
    void batPaddingIsAllOnesAndEntriesAreBigEndian() throws Exception {
        int size = 6 * MIB;
        ExtentSet data = ExtentSet.of(2L * MIB, 2L * MIB + 1);
        byte[] disk = TestImages.disk(size, data, 1);
        byte[] vhd = TestImages.vhd(disk, AllocationMap.ofData(size, data), TestImages.options(VhdDiskType.DYNAMIC));
        ByteBuffer bat = ByteBuffer.wrap(vhd, 1536, 512).order(ByteOrder.BIG_ENDIAN);
        assertThat(bat.getInt()).isEqualTo(-1);
        assertThat(bat.getInt()).isEqualTo(2048 / 512);
        assertThat(bat.getInt()).isEqualTo(-1);
        while (bat.hasRemaining()) {
            assertThat(bat.get()).isEqualTo((byte) 0xFF);
        }
    }

    @Test
    void pipelinedWholeWriteEqualsPieceByPieceWritesAndReadsBack() throws Exception {
        int size = 24 * MIB + 512;
        ExtentSet data = ExtentSet.builder()
                .add(0, 9L * MIB + 17 * 512)
                .add(12L * MIB, size)
                .build();
        byte[] disk = TestImages.disk(size, data, 5);
        AllocationMap map = AllocationMap.ofData(size, data);
        ByteArraySource source = new ByteArraySource(disk);
        VhdLayout layout = VhdLayout.plan(map, TestImages.options(VhdDiskType.DYNAMIC), source);
        assertThat(layout.length()).isGreaterThan(VhdWriter.PIPELINE_THRESHOLD);
        ByteArrayOutputStream whole = new ByteArrayOutputStream();
        new VhdWriter(layout, source).write(whole);
        ByteArrayOutputStream pieces = new ByteArrayOutputStream();
        VhdWriter writer = new VhdWriter(layout, source);
        long piece = 5 * MIB + 123;
        for (long a = 0; a < layout.length(); a += piece) {
            writer.write(Channels.newChannel(pieces), a, Math.min(layout.length(), a + piece));
        }
        assertThat(whole.toByteArray()).isEqualTo(pieces.toByteArray());
        MemorySink sink = new MemorySink(size, (byte) 1);
        VhdReader.readStream(TestImages.channel(whole.toByteArray(), 1 << 20), layout.length(), sink, false);
        assertThat(sink.data).isEqualTo(disk);
    }

    @Test
    void aFailingSourceFailsThePipelinedWriteWithItsError() throws Exception {
        int size = 24 * MIB;
        AllocationMap map = AllocationMap.ofData(size, ExtentSet.of(0, size));
        ByteArraySource shorter = new ByteArraySource(new byte[size]) {
            @Override
            public long size() {
                return size;
            }

            @Override
            public void readFully(long offset, ByteBuffer buffer) throws java.io.EOFException {
                if (offset >= 20L * MIB) {
                    throw new java.io.EOFException("source ends at 20 MiB");
                }
                super.readFully(offset, buffer);
            }
        };
        VhdLayout layout =
                VhdLayout.plan(map, TestImages.options(VhdDiskType.DYNAMIC).withSkipZeroBlocks(false));
        assertThatThrownBy(() -> new VhdWriter(layout, shorter).write(new ByteArrayOutputStream()))
                .isInstanceOf(java.io.EOFException.class)
                .hasMessage("source ends at 20 MiB");
    }
}
