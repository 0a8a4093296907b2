package org.thinsr.migrate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;
import org.thinsr.allocmap.ThinsrException;

class SparseCopierTest {
    private static final int SIZE = 16 << 20;
    private static final int CHUNK = 64 << 10;

    @TempDir
    Path dir;

    /** Data in scattered 192 KiB runs, a ZERO run, holes elsewhere; the map says which is which. */
    private static AllocationMap scatteredMap() {
        AllocationMap.Builder builder = AllocationMap.builder(SIZE);
        for (long offset = 0; offset < SIZE; offset += 1 << 20) {
            builder.add(offset, offset + (192 << 10), State.DATA, Provenance.LOCAL);
            long zeroEnd = offset == 0 ? offset + (512 << 10) : offset + (192 << 10);
            builder.add(offset + (192 << 10), zeroEnd, State.ZERO, Provenance.LOCAL);
            builder.add(zeroEnd, offset + (1 << 20), State.HOLE, Provenance.LOCAL);
        }
        return builder.build();
    }

    private static MemoryDisk sourceFor(AllocationMap map, long seed) {
        MemoryDisk disk = new MemoryDisk(SIZE);
        Random random = new Random(seed);
        ExtentSet data = map.nonZeroExtents();
        for (int i = 0; i < data.size(); i++) {
            byte[] chunk = new byte[(int) (data.end(i) - data.start(i))];
            random.nextBytes(chunk);
            System.arraycopy(chunk, 0, disk.bytes, (int) data.start(i), chunk.length);
        }
        disk.forbiddenReads = data.complement(SIZE);
        return disk;
    }

    private static SparseCopier.Options options(int connections) {
        return new SparseCopier.Options(connections, CHUNK, BandwidthLimiter.unlimited());
    }

    @Test
    void fullCopySendsOnlyDataAndNeverReadsHoles() throws Exception {
        AllocationMap map = scatteredMap();
        MemoryDisk source = sourceFor(map, 1);
        MemoryDisk destination = new MemoryDisk(SIZE);
        SparseCopier.Result result = SparseCopier.copy(
                CopyPlan.full(map),
                source::source,
                destination::sink,
                options(4),
                Optional.empty(),
                (a, b, c, d) -> {},
                () -> false);
        assertThat(destination.bytes).isEqualTo(source.bytes);
        assertThat(result.sentBytes()).isEqualTo(map.nonZeroExtents().totalLength());
        assertThat(source.bytesRead.get()).isEqualTo(map.nonZeroExtents().totalLength());
        assertThat(destination.bytesWritten.get())
                .isEqualTo(map.nonZeroExtents().totalLength());
    }

    @Test
    void dataGoesAsFileRegionsWhereTheSinkTakesThemAndIsReadWhereItDoesNot() throws Exception {
        AllocationMap map = scatteredMap();
        MemoryDisk source = sourceFor(map, 5);
        Path file = Files.write(dir.resolve("source.raw"), source.bytes);
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file)) {
            MemoryDisk taking = new MemoryDisk(SIZE);
            taking.acceptsRegions = true;
            SparseCopier.Result result = SparseCopier.copy(
                    CopyPlan.full(map),
                    () -> source.sourceWithRegions(channel),
                    taking::sink,
                    options(4),
                    Optional.empty(),
                    (a, b, c, d) -> {},
                    () -> false);
            assertThat(taking.bytes).isEqualTo(source.bytes);
            assertThat(result.sentBytes()).isEqualTo(map.nonZeroExtents().totalLength());
            assertThat(taking.bytesFromRegions.get())
                    .isEqualTo(map.nonZeroExtents().totalLength());
            assertThat(source.bytesRead.get()).as("nothing read into memory").isZero();

            MemoryDisk refusing = new MemoryDisk(SIZE);
            source.regionsAsked.set(0);
            SparseCopier.copy(
                    CopyPlan.full(map),
                    () -> source.sourceWithRegions(channel),
                    refusing::sink,
                    options(4),
                    Optional.empty(),
                    (a, b, c, d) -> {},
                    () -> false);
            assertThat(refusing.bytes).isEqualTo(source.bytes);
            assertThat(refusing.bytesFromRegions.get()).isZero();
            assertThat(source.regionsAsked.get())
                    .as("asked once per worker, not per chunk, once the sink refused")
                    .isLessThanOrEqualTo(4);
            assertThat(source.bytesRead.get()).isEqualTo(map.nonZeroExtents().totalLength());
        }
    }

    @Test
    void deltaPassZeroesChangedExtentsThatAreNoLongerData() throws Exception {
        AllocationMap map = scatteredMap();
        MemoryDisk source = sourceFor(map, 2);
        MemoryDisk destination = new MemoryDisk(SIZE);
        new Random(9).nextBytes(destination.bytes); // old content everywhere
        SparseCopier.copy(
                CopyPlan.delta(map, Optional.empty()),
                source::source,
                destination::sink,
                options(2),
                Optional.empty(),
                (a, b, c, d) -> {},
                () -> false);
        assertThat(destination.bytes).isEqualTo(source.bytes);
    }

    @Test
    void interruptedCopyResumesFromTheJournalWithoutResendingFinishedExtents() throws Exception {
        AllocationMap map = scatteredMap();
        MemoryDisk source = sourceFor(map, 3);
        MemoryDisk destination = new MemoryDisk(SIZE);
        long total = map.nonZeroExtents().totalLength();
        destination.failWritesAfterBytes = total / 2;
        Path journalFile = dir.resolve("copy.journal");
        CopyPlan plan = CopyPlan.full(map);
        SparseCopier.Options options = new SparseCopier.Options(1, CHUNK, BandwidthLimiter.unlimited(), CHUNK);
        try (CopyJournal journal = CopyJournal.open(journalFile, "vdi-a->vdi-b")) {
            assertThatThrownBy(() -> SparseCopier.copy(
                            plan,
                            source::source,
                            destination::sink,
                            options,
                            Optional.of(journal),
                            (a, b, c, d) -> {},
                            () -> false))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("injected");
        }
        destination.failWritesAfterBytes = Long.MAX_VALUE;
        long writtenBefore = destination.bytesWritten.get();
        try (CopyJournal journal = CopyJournal.open(journalFile, "vdi-a->vdi-b")) {
            long recorded = journal.doneAtOpen().totalLength();
            SparseCopier.Result result = SparseCopier.copy(
                    plan,
                    source::source,
                    destination::sink,
                    options,
                    Optional.of(journal),
                    (a, b, c, d) -> {},
                    () -> false);
            assertThat(result.skippedBytes()).isEqualTo(recorded);
            assertThat(destination.bytesWritten.get() - writtenBefore).isEqualTo(total - recorded);
        }
        assertThat(destination.bytes).isEqualTo(source.bytes);
    }

    @Test
    void cancellationStopsWithCancelled() {
        AllocationMap map = scatteredMap();
        MemoryDisk source = sourceFor(map, 4);
        MemoryDisk destination = new MemoryDisk(SIZE);
        assertThatThrownBy(() -> SparseCopier.copy(
                        CopyPlan.full(map),
                        source::source,
                        destination::sink,
                        options(2),
                        Optional.empty(),
                        (a, b, c, d) -> {},
                        () -> true))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CANCELLED));
    }

    @Test
    void journalOfAnotherCopyIsRefusedAndATornTailIsIgnored() throws Exception {
        Path file = dir.resolve("j");
        try (CopyJournal journal = CopyJournal.open(file, "one")) {
            journal.record(0, 100);
            journal.record(200, 300);
        }
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 5));
        try (CopyJournal journal = CopyJournal.open(file, "one")) {
            assertThat(journal.doneAtOpen()).isEqualTo(ExtentSet.of(0, 100));
        }
        assertThatThrownBy(() -> CopyJournal.open(file, "two")).hasMessageContaining("another copy");
    }

    @Test
    void aBatchIsOneAppendAndATornBatchKeepsItsWholeRecords() throws Exception {
        Path file = dir.resolve("batch");
        ExtentSet batch = ExtentSet.builder().add(0, 10).add(20, 30).add(40, 50).build();
        try (CopyJournal journal = CopyJournal.open(file, "copy")) {
            journal.record(batch);
            journal.record(ExtentSet.empty());
        }
        byte[] bytes = Files.readAllBytes(file);
        int header = bytes.length - 3 * CopyJournal.RECORD_BYTES;
        try (CopyJournal journal = CopyJournal.open(file, "copy")) {
            assertThat(journal.doneAtOpen()).isEqualTo(batch);
        }
        Files.write(file, java.util.Arrays.copyOf(bytes, header + 2 * CopyJournal.RECORD_BYTES + 7));
        try (CopyJournal journal = CopyJournal.open(file, "copy")) {
            assertThat(journal.doneAtOpen())
                    .isEqualTo(ExtentSet.builder().add(0, 10).add(20, 30).build());
            journal.record(ExtentSet.of(40, 50));
        }
        try (CopyJournal journal = CopyJournal.open(file, "copy")) {
            assertThat(journal.doneAtOpen()).isEqualTo(batch);
        }
    }

    @Test
    void bandwidthParsesUnits() {
        assertThat(BandwidthLimiter.parse("100M")).isNotNull();
        assertThatThrownBy(() -> BandwidthLimiter.parse("fast")).hasMessageContaining("expected bytes per second");
    }

    @Test
    void verificationNamesTheFirstDifferingBlock() {
        assertThat(Verification.firstMismatch(java.util.List.of("a", "b", "c"), java.util.List.of("a", "x", "y"), 4096))
                .hasValueSatisfying(m -> assertThat(m.offset()).isEqualTo(4096));
        assertThat(Verification.firstMismatch(java.util.List.of("a"), java.util.List.of("a"), 4096))
                .isEmpty();
    }
}
