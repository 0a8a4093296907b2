package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

class TarStreamTest {
    private static final int CHUNK = 512;

    /** A 5.5-chunk disk: data in chunk 1 and 3, chunk 0 and the short last chunk zero. */
    private static RawMemoryDisk smallDisk() {
        return RawMemoryDisk.random(
                new Random(7),
                5 * CHUNK + 256,
                ExtentSet.of(CHUNK + 10, 2 * CHUNK - 3).union(ExtentSet.of(3 * CHUNK, 3 * CHUNK + 1)));
    }

    private static byte[] tarOf(RawMemoryDisk disk, TarPlan plan) throws IOException {
        TarWriter writer = new TarWriter(plan, disk);
        return RawTestStreams.bytesOf(writer::writeTo);
    }

    private static TarPlan smallPlan(RawMemoryDisk disk, TarChecksum checksum) {
        return TarPlan.plan(disk.allocationMap(), "vdi/", checksum, CHUNK, 1_700_000_000L);
    }

    private static TarReader reader() {
        return new TarReader("vdi/", true, TarReader.Target.DIRTY, 1 << 20);
    }

    @Test
    void xxhashIsUpperCaseXxh64WithSeedZeroAndSha1IsLowerCaseHex() {
        // reference values of the empty input: XXH64(seed 0) and SHA-1
        assertThat(TarChecksum.XXHASH.compute(new byte[0], 0)).isEqualTo("EF46DB3751D8E999");
        assertThat(TarChecksum.SHA1.compute(new byte[0], 0)).isEqualTo("da39a3ee5e6b4b0d3255bfef95601890afd80709");
        byte[] abc = "abc".getBytes(StandardCharsets.US_ASCII);
        assertThat(TarChecksum.XXHASH.compute(abc, 3)).isEqualTo("44BC2CF5AD770999");
    }

    @Test
    void planHasFirstLastAndDataChunksOnlyAndItsLengthIsExact() throws IOException {
        RawMemoryDisk disk = smallDisk();
        TarPlan plan = smallPlan(disk, TarChecksum.XXHASH);
        assertThat(plan.presentChunks()).isEqualTo(4); // 0, 1, 3, 5
        assertThat(plan.chunkIndex(0)).isEqualTo(0);
        assertThat(plan.chunkIndex(1)).isEqualTo(1);
        assertThat(plan.chunkIndex(2)).isEqualTo(3);
        assertThat(plan.chunkIndex(3)).isEqualTo(5);
        byte[] tar = tarOf(disk, plan);
        assertThat((long) tar.length).isEqualTo(plan.length()).isEqualTo(4L * 2048 + 1024);
        assertThat(plan.payloadBytes()).isEqualTo(3L * CHUNK + 256);
    }

    @Test
    void holesAreNeverReadFromTheSource() throws IOException {
        RawMemoryDisk disk = smallDisk();
        tarOf(disk, smallPlan(disk, TarChecksum.XXHASH));
        assertThat(disk.allocationMap().nonZeroExtents().union(disk.readRanges()))
                .isEqualTo(disk.allocationMap().nonZeroExtents());
    }

    @Test
    void commonsCompressReadsOurTarWithXapiNamesAndChecksums() throws IOException {
        RawMemoryDisk disk = smallDisk();
        for (TarChecksum checksum : TarChecksum.values()) {
            byte[] tar = tarOf(disk, smallPlan(disk, checksum));
            List<String> names = new ArrayList<>();
            try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
                TarArchiveEntry entry;
                byte[] last = null;
                while ((entry = in.getNextEntry()) != null) {
                    names.add(entry.getName() + ":" + entry.getSize());
                    byte[] content = in.readAllBytes();
                    assertThat(entry.getLastModifiedTime().toMillis()).isEqualTo(1_700_000_000_000L);
                    if (entry.getName().endsWith(checksum.extension())) {
                        assertThat(new String(content, StandardCharsets.US_ASCII))
                                .isEqualTo(checksum.compute(last, last.length));
                    } else {
                        int index = Integer.parseInt(entry.getName().substring(4));
                        assertThat(content)
                                .isEqualTo(
                                        Arrays.copyOfRange(disk.bytes, index * CHUNK, index * CHUNK + content.length));
                        last = content;
                    }
                }
            }
            String ext = checksum.extension();
            int textLength = checksum.textLength();
            assertThat(names)
                    .containsExactly(
                            "vdi/00000000:512",
                            "vdi/00000000" + ext + ":" + textLength,
                            "vdi/00000001:512",
                            "vdi/00000001" + ext + ":" + textLength,
                            "vdi/00000003:512",
                            "vdi/00000003" + ext + ":" + textLength,
                            "vdi/00000005:256",
                            "vdi/00000005" + ext + ":" + textLength);
        }
    }

    @Test
    void everyRangeSplitConcatenatesToTheWholeStream() throws IOException {
        RawMemoryDisk disk = smallDisk();
        TarPlan plan = smallPlan(disk, TarChecksum.XXHASH);
        byte[] whole = tarOf(disk, plan);
        TarWriter writer = new TarWriter(plan, disk);
        for (int split = 0; split <= whole.length; split++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            writer.writeRange(0, split, out);
            writer.writeRange(split, whole.length, out);
            assertThat(out.toByteArray()).as("split at %s", split).isEqualTo(whole);
        }
        long seed = System.nanoTime();
        System.out.println("TarStreamTest random ranges seed " + seed);
        Random random = new Random(seed);
        for (int i = 0; i < 2000; i++) {
            int from = random.nextInt(whole.length + 1);
            int to = from + random.nextInt(whole.length - from + 1);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            new TarWriter(plan, disk).writeRange(from, to, out);
            assertThat(out.toByteArray())
                    .as("seed %s range [%s, %s)", seed, from, to)
                    .isEqualTo(Arrays.copyOfRange(whole, from, to));
        }
    }

    @Test
    void roundTripsUnderEveryChunkingOfTheInput() throws IOException {
        RawMemoryDisk disk = smallDisk();
        byte[] tar = tarOf(disk, smallPlan(disk, TarChecksum.XXHASH));
        List<InputStream> inputs = new ArrayList<>();
        inputs.add(RawTestStreams.whole(tar));
        inputs.add(RawTestStreams.inPieces(tar, 1));
        inputs.add(RawTestStreams.inPieces(tar, 511));
        for (int split = 0; split <= tar.length; split++) {
            inputs.add(RawTestStreams.splitAt(tar, split));
        }
        for (InputStream input : inputs) {
            RawMemoryDisk target = RawMemoryDisk.zeros(disk.bytes.length);
            Arrays.fill(target.bytes, (byte) 0x55); // not pre-zeroed: gaps must be zeroed
            assertThat(reader().read(input, target, true)).isEqualTo(disk.bytes.length);
            assertThat(target.bytes).isEqualTo(disk.bytes);
        }
    }

    @Test
    void roundTripsRandomDisksWithXapiChunkSize() throws IOException {
        long seed = System.nanoTime();
        System.out.println("TarStreamTest random disks seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 6; round++) {
            int size = 1 + random.nextInt(5 << 20);
            ExtentSet data = RawMemoryDisk.randomExtents(random, size, 0.3, 1 << 20);
            RawMemoryDisk disk = RawMemoryDisk.random(random, size, data);
            TarChecksum checksum = random.nextBoolean() ? TarChecksum.XXHASH : TarChecksum.SHA1;
            TarPlan plan = TarPlan.plan(disk.allocationMap(), "Ref:12/", checksum, 0);
            byte[] tar = tarOf(disk, plan);
            assertThat((long) tar.length).isEqualTo(plan.length());
            RawMemoryDisk target = RawMemoryDisk.zeros(size);
            new TarReader("Ref:12/", true, TarReader.Target.ZEROED, TarReader.DEFAULT_MAX_CHUNK_SIZE)
                    .read(RawTestStreams.inPieces(tar, 1 + random.nextInt(100_000)), target, true);
            assertThat(target.bytes).as("seed %s round %s", seed, round).isEqualTo(disk.bytes);
        }
    }

    @Test
    void emptyDiskIsJustTheEndOfArchive() throws IOException {
        RawMemoryDisk disk = RawMemoryDisk.zeros(0);
        TarPlan plan = TarPlan.plan(AllocationMap.builder(0).build(), "vdi/", TarChecksum.XXHASH, 0);
        byte[] tar = tarOf(disk, plan);
        assertThat(tar).hasSize(1024).containsOnly(0);
        assertThat(reader().read(RawTestStreams.whole(tar), disk, true)).isZero();
    }

    @Test
    void zeroAndHoleRunsAreSkippedButFirstAndLastChunksAreAlwaysThere() throws IOException {
        AllocationMap map = AllocationMap.builder(10L * CHUNK)
                .add(0, 4L * CHUNK, State.ZERO, Provenance.LOCAL)
                .add(4L * CHUNK, 10L * CHUNK, State.HOLE, Provenance.LOCAL)
                .build();
        TarPlan plan = TarPlan.plan(map, "vdi/", TarChecksum.XXHASH, CHUNK, 0);
        assertThat(plan.presentChunks()).isEqualTo(2);
        assertThat(plan.chunkIndex(1)).isEqualTo(9);
    }

    /** A tar as xapi writes it after a keep-alive: counter 2 has no bytes and does not move the offset. */
    @Test
    void keepAliveChunksAdvanceTheCounterButNotTheOffset() throws IOException {
        byte[] c0 = filled(CHUNK, 1);
        byte[] c1 = filled(CHUNK, 2);
        byte[] c3 = filled(CHUNK, 3);
        byte[] c5 = filled(100, 4);
        // counters: 0, 1, 2 (keep-alive), 3 -> offset 2*CHUNK (not 3), 5 -> gap of one chunk
        byte[] tar = commonsTar(
                List.of("vdi/00000000", "vdi/00000001", "vdi/00000002", "vdi/00000003", "vdi/00000005"),
                List.of(c0, c1, new byte[0], c3, c5),
                TarChecksum.XXHASH);
        RawMemoryDisk target = RawMemoryDisk.zeros(4 * CHUNK + 100);
        Arrays.fill(target.bytes, (byte) 9);
        assertThat(reader().read(RawTestStreams.whole(tar), target, true)).isEqualTo(4L * CHUNK + 100);
        byte[] expected = new byte[4 * CHUNK + 100];
        System.arraycopy(c0, 0, expected, 0, CHUNK);
        System.arraycopy(c1, 0, expected, CHUNK, CHUNK);
        System.arraycopy(c3, 0, expected, 2 * CHUNK, CHUNK);
        System.arraycopy(c5, 0, expected, 4 * CHUNK, 100);
        assertThat(target.bytes).isEqualTo(expected);
    }

    @Test
    void legacySha1ChecksumsFromCommonsCompressAreRead() throws IOException {
        byte[] c0 = filled(CHUNK, 5);
        byte[] tar = commonsTar(List.of("vdi/00000000"), List.of(c0), TarChecksum.SHA1);
        RawMemoryDisk target = RawMemoryDisk.zeros(CHUNK);
        reader().read(RawTestStreams.whole(tar), target, true);
        assertThat(target.bytes).isEqualTo(c0);
    }

    @Test
    void checksumMismatchNamesTheChunkAndBothValues() throws IOException {
        RawMemoryDisk disk = smallDisk();
        byte[] tar = tarOf(disk, smallPlan(disk, TarChecksum.XXHASH));
        tar[2048 + 512 + 200] ^= 1; // a data byte of chunk 1 (entry 1 starts at 2048)
        assertThatThrownBy(() -> reader().read(RawTestStreams.whole(tar), RawMemoryDisk.zeros(disk.bytes.length), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("xxhash of vdi/00000001")
                .hasMessageContaining("computed from the chunk");
    }

    @Test
    void upperCaseMattersInXxhashText() throws IOException {
        RawMemoryDisk disk = smallDisk();
        byte[] tar = tarOf(disk, smallPlan(disk, TarChecksum.XXHASH));
        // entry 0: header at 0, data at 512, checksum header at 1024, checksum text at 1536
        String text = new String(tar, 1536, 16, StandardCharsets.US_ASCII);
        assertThat(text).matches("[0-9A-F]{16}");
        byte[] mutated = tar.clone();
        int letter = 0;
        while (Character.isDigit(text.charAt(letter))) {
            letter++; // fails with StringIndexOutOfBounds if the hash has no letter: pick another disk
        }
        mutated[1536 + letter] = (byte) Character.toLowerCase(text.charAt(letter));
        assertThatThrownBy(() ->
                        reader().read(RawTestStreams.whole(mutated), RawMemoryDisk.zeros(disk.bytes.length), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("offset 1536");
    }

    @Test
    void everyTruncationIsCorruptInputNamingAnOffset() throws IOException {
        RawMemoryDisk disk = smallDisk();
        byte[] tar = tarOf(disk, smallPlan(disk, TarChecksum.XXHASH));
        for (int length = 0; length < tar.length; length++) {
            byte[] truncated = Arrays.copyOf(tar, length);
            assertThatThrownBy(() -> reader().read(
                                    RawTestStreams.whole(truncated), RawMemoryDisk.zeros(disk.bytes.length), true))
                    .as("truncated to %s", length)
                    .isInstanceOf(CorruptImageException.class)
                    .hasMessageContaining("offset ");
        }
    }

    @Test
    void trailingGarbageIsRejectedAndZeroPaddingAccepted() throws IOException {
        RawMemoryDisk disk = smallDisk();
        byte[] tar = tarOf(disk, smallPlan(disk, TarChecksum.XXHASH));
        byte[] padded = Arrays.copyOf(tar, tar.length + 9216); // GNU tar pads to 10 KiB records
        assertThat(reader().read(RawTestStreams.whole(padded), RawMemoryDisk.zeros(disk.bytes.length), true))
                .isEqualTo(disk.bytes.length);
        byte[] garbage = Arrays.copyOf(tar, tar.length + 3);
        garbage[tar.length + 2] = 'x';
        assertThatThrownBy(() ->
                        reader().read(RawTestStreams.whole(garbage), RawMemoryDisk.zeros(disk.bytes.length), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage(
                        "offset " + (tar.length + 2)
                                + ": byte after the end of the archive: actual 0x78, expected zero padding or the end of input");
    }

    @Test
    void aDiskLargerThanTheSinkOrSmallerThanItIsRejected() throws IOException {
        RawMemoryDisk disk = smallDisk();
        byte[] tar = tarOf(disk, smallPlan(disk, TarChecksum.XXHASH));
        assertThatThrownBy(() ->
                        reader().read(RawTestStreams.whole(tar), RawMemoryDisk.zeros(disk.bytes.length - 1), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("at most the disk size " + (disk.bytes.length - 1));
        assertThatThrownBy(() ->
                        reader().read(RawTestStreams.whole(tar), RawMemoryDisk.zeros(disk.bytes.length + 1), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("disk bytes covered by the tar chunks: actual " + disk.bytes.length);
        assertThat(reader().read(RawTestStreams.whole(tar), RawMemoryDisk.zeros(disk.bytes.length + 1), false))
                .isEqualTo(disk.bytes.length);
    }

    @Test
    void oversizedFirstChunkIsRejectedBeforeAllocating() throws IOException {
        byte[] header = new byte[512];
        TarHeader.write(header, 0, "vdi/00000000", TarHeader.MAX_OCTAL_SIZE, 0);
        assertThatThrownBy(() -> reader().read(RawTestStreams.whole(header), RawMemoryDisk.zeros(10), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage("offset 124: first chunk length (the chunk size) of vdi/00000000: actual "
                        + TarHeader.MAX_OCTAL_SIZE + ", expected in [1, 1048576]");
    }

    @Test
    void wrongPrefixOrUnknownEntryTypesAreRejected() throws IOException {
        byte[] header = new byte[512];
        TarHeader.write(header, 0, "ova.xml", 10, 0);
        assertThatThrownBy(() -> reader().read(RawTestStreams.whole(header), RawMemoryDisk.zeros(10), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessage("offset 0: tar entry name: actual ova.xml, expected a chunk named vdi/NNNNNNNN");
        ByteArrayOutputStream pax = new ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(pax)) {
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            TarArchiveEntry entry = new TarArchiveEntry("vdi/" + "0".repeat(120));
            entry.setSize(0);
            out.putArchiveEntry(entry);
            out.closeArchiveEntry();
        }
        assertThatThrownBy(() -> reader().read(RawTestStreams.whole(pax.toByteArray()), RawMemoryDisk.zeros(10), true))
                .isInstanceOf(CorruptImageException.class)
                .hasMessageContaining("tar entry type: actual 'x'");
    }

    @Test
    void aDeltaTarAppliedOnItsBaseLeavesGapsAndWritesZeroedChunks() throws IOException {
        RawMemoryDisk base = RawMemoryDisk.random(new Random(3), 6 * CHUNK, ExtentSet.of(0, 6L * CHUNK));
        byte[] now = base.bytes.clone();
        java.util.Arrays.fill(now, 2 * CHUNK, 3 * CHUNK, (byte) 0); // chunk 2 was zeroed
        now[4 * CHUNK + 7] ^= 1; // chunk 4 changed
        RawMemoryDisk disk = new RawMemoryDisk(now, AllocationMap.ofData(now.length, ExtentSet.of(0, now.length)));
        AllocationMap delta = RawDelta.changed(disk.allocationMap(), disk, base.allocationMap(), base, CHUNK);
        byte[] tar = tarOf(disk, TarPlan.planDelta(delta, "vdi/", TarChecksum.XXHASH, CHUNK, 0));
        RawMemoryDisk target = new RawMemoryDisk(base.bytes.clone(), null);
        new TarReader("vdi/", true, TarReader.Target.DELTA_BASE, CHUNK).read(RawTestStreams.whole(tar), target, true);
        assertThat(target.bytes).isEqualTo(now);
        assertThat(target.zeroedRanges()).isEqualTo(ExtentSet.of(2L * CHUNK, 3L * CHUNK));
    }

    private static byte[] filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }

    /** A tar written by commons-compress (an independent writer) in xapi's layout. */
    static byte[] commonsTar(List<String> names, List<byte[]> chunks, TarChecksum checksum) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(bytes)) {
            for (int i = 0; i < names.size(); i++) {
                byte[] chunk = chunks.get(i);
                add(out, names.get(i), chunk);
                add(
                        out,
                        names.get(i) + checksum.extension(),
                        checksum.compute(chunk, chunk.length).getBytes(StandardCharsets.US_ASCII));
            }
        }
        return bytes.toByteArray();
    }

    private static void add(TarArchiveOutputStream out, String name, byte[] content) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(content.length);
        out.putArchiveEntry(entry);
        out.write(content);
        out.closeArchiveEntry();
    }
}
