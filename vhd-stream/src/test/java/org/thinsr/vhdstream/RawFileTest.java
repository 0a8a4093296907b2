package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.State;

/** Raw files on the build's own file system (ext4/xfs/btrfs/tmpfs all support SEEK_DATA). */
class RawFileTest {
    private static final int MIB = 1 << 20;
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createDirectories(Paths.get("target", "raw-file-test"));
    }

    /** A sparse file of {@code size} with random bytes at the given (1 MiB aligned) extents. */
    private Path sparseFile(String name, long size, ExtentSet data, Random random) throws IOException {
        Path file = dir.resolve(name);
        try (RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            out.setLength(0);
            out.setLength(size);
            for (int i = 0; i < data.size(); i++) {
                byte[] bytes = new byte[(int) (data.end(i) - data.start(i))];
                random.nextBytes(bytes);
                out.seek(data.start(i));
                out.write(bytes);
            }
        }
        return file;
    }

    @Test
    void allocationMapIsExactlyTheWrittenExtentsOfASparseFile() throws IOException {
        ExtentSet data = ExtentSet.of(MIB, 3L * MIB).union(ExtentSet.of(10L * MIB, 11L * MIB));
        Path file = sparseFile("map.raw", 64L * MIB, data, new Random(1));
        try (RawFileSource source = RawFileSource.open(file)) {
            assertThat(source.size()).isEqualTo(64L * MIB);
            assertThat(source.allocationMap()).isEqualTo(AllocationMap.ofData(64L * MIB, data));
        }
    }

    @Test
    void anEightTebibyteSparseFileMapsToItsOneExtentWithoutReading() throws IOException {
        Path file = sparseFile("huge.raw", 1L << 43, ExtentSet.of(1L << 40, (1L << 40) + MIB), new Random(2));
        try (RawFileSource source = RawFileSource.open(file)) {
            assertThat(source.allocationMap().nonZeroExtents()).isEqualTo(ExtentSet.of(1L << 40, (1L << 40) + MIB));
        }
        Files.delete(file);
    }

    @Test
    void zeroScanTurnsAllZeroDataIntoZero() throws IOException {
        Path file = dir.resolve("zeros.raw");
        try (RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            out.setLength(0);
            out.write(new byte[2 * MIB]); // allocated zeros
            out.seek(MIB + 70_000);
            out.write(1);
        }
        try (RawFileSource source = RawFileSource.open(file, 64 << 10)) {
            AllocationMap map = source.allocationMap();
            assertThat(map.nonZeroExtents()).isEqualTo(ExtentSet.of(MIB + 65_536, MIB + 131_072));
            assertThat(map.extentsIn(State.ZERO).totalLength()).isEqualTo(2L * MIB - 65_536);
        }
    }

    @Test
    void zeroScanReadsTheFirst4KibOfEachGranuleAndTheRestOnlyWhenThoseAreZero() throws IOException {
        byte[] disk = new byte[MIB];
        new Random(11).nextBytes(disk);
        Arrays.fill(disk, 0, 64 << 10, (byte) 0); // granule 0: zeros
        Arrays.fill(disk, 64 << 10, 68 << 10, (byte) 0); // granule 1: data after its first 4 KiB
        ByteArraySource source = new ByteArraySource(disk);
        AllocationMap map = RawZeroScan.refine(AllocationMap.ofData(MIB, ExtentSet.of(0, MIB)), source, 64 << 10);
        assertThat(map.extentsIn(State.ZERO)).isEqualTo(ExtentSet.of(0, 64 << 10));
        assertThat(map.nonZeroExtents()).isEqualTo(ExtentSet.of(64 << 10, MIB));
        assertThat(source.bytesRead).isEqualTo(2 * (64 << 10) + 14 * 4096);
    }

    @Test
    void vhdWrittenFileToFileEqualsTheStreamedVhdForEveryDiskType() throws IOException {
        long size = 13L * MIB + 1024; // a partial last block
        ExtentSet data = ExtentSet.builder()
                .add(512, 70_000)
                .add(2L * MIB, 2L * MIB + 4096) // a block with holes around its data
                .add(11L * MIB + 512, size) // a fixed disk has a 9 MiB run of zeros before it
                .build();
        Path input = sparseFile("vhd-in.raw", size, data, new Random(12));
        Path output = dir.resolve("vhd-out.vhd");
        for (VhdDiskType type : VhdDiskType.values()) {
            try (RawFileSource source = RawFileSource.open(input)) {
                VhdLayout layout = VhdLayout.plan(source.allocationMap(), TestImages.options(type), source);
                byte[] streamed =
                        TestImages.vhd(Files.readAllBytes(input), source.allocationMap(), TestImages.options(type));
                long[] reported = {0};
                try (FileChannel out = FileChannel.open(
                        output,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE)) {
                    new VhdWriter(layout, source)
                            .progress(bytes -> reported[0] = bytes)
                            .write(out);
                }
                assertThat(Files.readAllBytes(output)).as("%s", type).isEqualTo(streamed);
                assertThat(reported[0]).isEqualTo(layout.length());
                try (FileChannel out =
                        FileChannel.open(output, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                    out.position(7);
                    long a = 2L * MIB + 100;
                    long b = Math.min(layout.length(), 9L * MIB + 3);
                    new VhdWriter(layout, source).write(out, a, b);
                    assertThat(out.position()).isEqualTo(7 + b - a);
                    assertThat(Arrays.copyOfRange(Files.readAllBytes(output), 7, (int) (7 + b - a)))
                            .as("%s [%d, %d)", type, a, b)
                            .isEqualTo(Arrays.copyOfRange(streamed, (int) a, (int) b));
                }
            }
        }
    }

    @Test
    void vhdFileToFileFromASourceThatShrankFailsWithEof() throws IOException {
        Path input = sparseFile("vhd-shrinks.raw", 4L * MIB, ExtentSet.of(0, 4L * MIB), new Random(13));
        try (RawFileSource source = RawFileSource.open(input);
                FileChannel out = FileChannel.open(
                        dir.resolve("vhd-shrinks.vhd"),
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE)) {
            VhdLayout layout = VhdLayout.plan(source.allocationMap(), TestImages.options(VhdDiskType.DYNAMIC));
            try (RandomAccessFile file = new RandomAccessFile(input.toFile(), "rw")) {
                file.setLength(3L * MIB);
            }
            assertThatThrownBy(() -> new VhdWriter(layout, source).write(out))
                    .isInstanceOf(EOFException.class)
                    .hasMessageContaining("vhd-shrinks.raw ended at " + 3L * MIB);
        }
    }

    @Test
    void readsPastTheEndThrowEof() throws IOException {
        Path file = sparseFile("small.raw", 1000, ExtentSet.empty(), new Random(3));
        try (RawFileSource source = RawFileSource.open(file)) {
            assertThatThrownBy(() -> source.readFully(990, ByteBuffer.allocate(11)))
                    .isInstanceOf(EOFException.class);
            ByteBuffer buffer = ByteBuffer.allocate(10);
            source.readFully(990, buffer);
            assertThat(buffer.array()).containsOnly(0);
        }
    }

    @Test
    void sparseFileOutputHasHolesWhereTheMapHasNoData() throws IOException {
        ExtentSet data = ExtentSet.of(2L * MIB, 4L * MIB).union(ExtentSet.of(30L * MIB, 31L * MIB));
        Path input = sparseFile("in.raw", 32L * MIB + 5, data, new Random(4));
        Path output = dir.resolve("out.raw");
        Files.write(output, new byte[40 * MIB]); // old content must not survive
        try (RawFileSource source = RawFileSource.open(input)) {
            new RawWriter(source.allocationMap(), source).writeToFile(output);
        }
        assertThat(Files.size(output)).isEqualTo(32L * MIB + 5);
        assertThat(Files.readAllBytes(output)).isEqualTo(Files.readAllBytes(input));
        try (RawFileSource written = RawFileSource.open(output)) {
            assertThat(written.allocationMap().nonZeroExtents()).isEqualTo(data);
        }
    }

    @Test
    void streamOutputWritesZerosForHolesAndRangesMatch() throws IOException {
        ExtentSet data = ExtentSet.of(100, 5000);
        Path input = sparseFile("stream.raw", 3 * MIB, data, new Random(5));
        try (RawFileSource source = RawFileSource.open(input)) {
            RawWriter writer = new RawWriter(source.allocationMap(), source);
            byte[] whole = RawTestStreams.bytesOf(writer::writeTo);
            assertThat(whole).isEqualTo(Files.readAllBytes(input));
            ByteArrayOutputStream range = new ByteArrayOutputStream();
            writer.writeRange(4000, MIB + 3, range);
            assertThat(range.toByteArray()).isEqualTo(Arrays.copyOfRange(whole, 4000, MIB + 3));
        }
    }

    @Test
    void sinkWriteZeroesPunchesHolesAndKeepsTheSize() throws IOException {
        Path file = dir.resolve("sink.raw");
        byte[] ones = new byte[4 * MIB];
        Arrays.fill(ones, (byte) 1);
        try (RawFileSink sink = RawFileSink.create(file, 8L * MIB)) {
            try (RawFileSource fresh = RawFileSource.open(file)) {
                assertThat(fresh.allocationMap().nonZeroExtents()).isEqualTo(ExtentSet.empty());
            }
            sink.write(MIB, ByteBuffer.wrap(ones));
            sink.writeZeroes(2L * MIB, MIB);
            sink.flush();
            assertThatThrownBy(() -> sink.write(8L * MIB - 1, ByteBuffer.allocate(2)))
                    .isInstanceOf(IOException.class);
        }
        assertThat(Files.size(file)).isEqualTo(8L * MIB);
        try (RawFileSource source = RawFileSource.open(file)) {
            assertThat(source.allocationMap().nonZeroExtents())
                    .isEqualTo(ExtentSet.of(MIB, 2L * MIB).union(ExtentSet.of(3L * MIB, 5L * MIB)));
            ByteBuffer middle = ByteBuffer.allocate(MIB);
            source.readFully(2L * MIB, middle);
            assertThat(middle.array()).containsOnly(0);
        }
    }

    @Test
    void tarAndChunkedRoundTripThroughFiles() throws IOException {
        ExtentSet data = ExtentSet.of(0, 10).union(ExtentSet.of(5L * MIB + 3, 7L * MIB));
        Path input = sparseFile("rt.raw", 9L * MIB + 1, data, new Random(6));
        try (RawFileSource source = RawFileSource.open(input)) {
            AllocationMap map = source.allocationMap();
            byte[] tar = RawTestStreams.bytesOf(
                    new TarWriter(TarPlan.plan(map, "vdi/", TarChecksum.XXHASH, 0), source)::writeTo);
            Path fromTar = dir.resolve("rt-tar.raw");
            try (RawFileSink sink = RawFileSink.create(fromTar, source.size())) {
                TarReader.forVdi(TarReader.Target.ZEROED).read(RawTestStreams.whole(tar), sink, true);
            }
            byte[] chunked = RawTestStreams.bytesOf(new ChunkedEncoder(map, source)::writeTo);
            Path fromChunked = dir.resolve("rt-chunked.raw");
            try (RawFileSink sink = RawFileSink.create(fromChunked, source.size())) {
                new ChunkedDecoder().decode(RawTestStreams.whole(chunked), sink);
            }
            byte[] expected = Files.readAllBytes(input);
            assertThat(Files.readAllBytes(fromTar)).isEqualTo(expected);
            assertThat(Files.readAllBytes(fromChunked)).isEqualTo(expected);
            try (RawFileSource written = RawFileSource.open(fromTar)) {
                // chunk 0 and the last chunk are mostly zero: only their non-zero bytes are allocated
                assertThat(written.allocationMap().nonZeroExtents().totalLength())
                        .isLessThan(4L * MIB);
            }
        }
    }

    @Test
    void skipZeroBlocksLeavesAllocatedZerosAsHoles() throws IOException {
        Path input = dir.resolve("allocated-zeros.raw");
        byte[] bytes = new byte[3 * MIB];
        bytes[MIB + 5000] = 9; // one non-zero byte: its 4 KiB block is the only data
        Files.write(input, bytes);
        Path output = dir.resolve("allocated-zeros-out.raw");
        try (RawFileSource source = RawFileSource.open(input)) {
            assertThat(source.allocationMap().nonZeroExtents()).isEqualTo(ExtentSet.of(0, 3L * MIB));
            new RawWriter(source.allocationMap(), source).writeToFile(output, true);
        }
        assertThat(Files.readAllBytes(output)).isEqualTo(bytes);
        try (RawFileSource written = RawFileSource.open(output)) {
            assertThat(written.allocationMap().nonZeroExtents()).isEqualTo(ExtentSet.of(MIB + 4096, MIB + 8192));
        }
    }

    @Test
    void deltaIsTheGranulesThatDifferIncludingOnesThatBecameZero() throws IOException {
        RawMemoryDisk base = RawMemoryDisk.random(new Random(8), 10_000, ExtentSet.of(0, 3000));
        byte[] changed = base.bytes.clone();
        changed[100] ^= 1; // granule [0, 1024)
        java.util.Arrays.fill(changed, 2048, 3000, (byte) 0); // granule [2048, 3072) became zero
        changed[9999] = 5; // past the base's data, granule [9216, 10000)
        RawMemoryDisk disk = new RawMemoryDisk(
                changed, AllocationMap.ofData(10_000, ExtentSet.of(0, 2048).union(ExtentSet.of(9999, 10_000))));
        AllocationMap delta = RawDelta.changed(disk.allocationMap(), disk, base.allocationMap(), base, 1024);
        assertThat(delta.nonZeroExtents())
                .isEqualTo(ExtentSet.of(0, 1024).union(ExtentSet.of(2048, 3072)).union(ExtentSet.of(9216, 10_000)));
        RawMemoryDisk shortBase = RawMemoryDisk.random(new Random(8), 5000, ExtentSet.of(0, 3000));
        AllocationMap grown = RawDelta.changed(disk.allocationMap(), disk, shortBase.allocationMap(), shortBase, 1024);
        assertThat(grown.nonZeroExtents()).isEqualTo(delta.nonZeroExtents());
    }
}
