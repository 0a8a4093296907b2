package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * The contract every {@link StorageBackend} meets, run against each implementation: a test class
 * per backend extends this and supplies a fresh backend and a configuration for a fresh SR.
 *
 * <p>Data is written and checked through the volume's {@link Attachment} with {@code qemu-io}
 * (Debian: qemu-utils), which opens block devices, files and NBD URIs alike; backends whose test
 * environment lacks it override {@link #writePattern} and {@link #hasPattern}.
 */
public abstract class StorageBackendContract {
    protected static final long MIB = 1 << 20;

    @TempDir
    protected Path workDir;

    protected StorageBackend backend;
    protected SrInfo sr;

    /** A fresh backend; called once per test. */
    protected abstract StorageBackend newBackend(Path workDir) throws Exception;

    /** The configuration of a fresh SR that does not exist yet, for {@link StorageBackend#createSr}. */
    protected abstract SrConfig newSrConfig(Path workDir) throws Exception;

    /**
     * A read-only origin of {@code sizeBytes} holding {@code pattern} in {@code [dataOffset,
     * dataOffset + dataLength)} and zeros elsewhere. The default is a sparse raw file.
     */
    protected Origin newOrigin(Path workDir, long sizeBytes, long dataOffset, int dataLength, byte pattern)
            throws IOException {
        Path file = workDir.resolve("origin-" + System.nanoTime() + ".raw");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            channel.truncate(0);
            ByteBuffer data = ByteBuffer.allocate(dataLength);
            while (data.hasRemaining()) {
                data.put(pattern);
            }
            data.flip();
            channel.write(data, dataOffset);
        }
        try (java.io.RandomAccessFile sparse = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            sparse.setLength(sizeBytes);
        }
        return new Origin(file.toString(), "raw", sizeBytes);
    }

    /** Writes {@code length} bytes of {@code pattern} at {@code offset} through {@code attachment}. */
    protected void writePattern(Attachment attachment, long offset, long length, int pattern) throws Exception {
        String output = qemuIo(attachment, false, "write -P " + pattern + " " + offset + " " + length);
        assertThat(output).as("qemu-io write output").contains("wrote " + length + "/" + length + " bytes");
    }

    /** Whether {@code [offset, offset + length)} of {@code attachment} holds only {@code pattern}. */
    protected boolean hasPattern(Attachment attachment, long offset, long length, int pattern) throws Exception {
        String output = qemuIo(attachment, true, "read -P " + pattern + " " + offset + " " + length);
        return output.contains("read " + length + "/" + length + " bytes") && !output.contains("verification failed");
    }

    private static String qemuIo(Attachment attachment, boolean readOnly, String command) throws Exception {
        Path qemuIo = Tools.require("qemu-io", "qemu-utils");
        List<String> argv = new ArrayList<>(List.of(qemuIo.toString(), "-f", "raw"));
        if (readOnly) {
            argv.add("-r");
        }
        argv.addAll(List.of("-c", command, attachment.target()));
        Process process = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String output;
        try (InputStream in = process.getInputStream()) {
            output = new String(in.readNBytes(1 << 20), StandardCharsets.UTF_8);
        }
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("qemu-io timed out: " + argv);
        }
        return output;
    }

    @BeforeEach
    final void createFreshSr() throws Exception {
        backend = newBackend(workDir);
        sr = backend.createSr(newSrConfig(workDir));
    }

    @AfterEach
    final void destroySr() {
        if (backend != null && sr != null) {
            backend.destroySr(sr);
        }
    }

    private long block() {
        return Math.max(backend.blockSizeBytes(sr), MIB);
    }

    private VolumeInfo thin(String name, long size) {
        return backend.createVolume(sr, name, size, Provisioning.THIN, Optional.empty(), Progress.NONE);
    }

    private static void assertCode(ThrowingRunnable call, ErrorCode code) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ThinsrException.class, e -> assertThat(e.code())
                .isEqualTo(code));
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    // ---- SR storage ----

    @Test
    void kindIsFileOrLvmThin() {
        assertThat(backend.kind()).isIn("file", "lvm-thin");
        assertThat(sr.backend()).isEqualTo(backend.kind());
    }

    @Test
    void freshSrHasNoVolumesAndSaneSpaceFigures() {
        assertThat(backend.listVolumes(sr)).isEmpty();
        SrStat stat = backend.statSr(sr);
        assertThat(stat.totalBytes()).isPositive();
        assertThat(stat.freeBytes()).isPositive().isLessThanOrEqualTo(stat.totalBytes());
        assertThat(stat.virtualAllocationBytes()).isZero();
    }

    @Test
    void blockSizeIsAPowerOfTwoOfAtLeast512() {
        long blockSize = backend.blockSizeBytes(sr);
        assertThat(blockSize).isGreaterThanOrEqualTo(512);
        assertThat(Long.bitCount(blockSize)).isEqualTo(1);
    }

    @Test
    void createOverExistingSrIsRefusedWithSrExists() {
        assertCode(() -> backend.createSr(sr.config()), ErrorCode.SR_EXISTS);
    }

    @Test
    void introduceAfterForgetSeesTheSameVolumes() {
        thin("kept", 8 * MIB);
        backend.forgetSr(sr);
        backend.forgetSr(sr);
        SrInfo again = backend.introduceSr(sr.config());
        assertThat(again.location()).isEqualTo(sr.location());
        assertThat(backend.introduceSr(sr.config())).isEqualTo(again);
        assertThat(backend.listVolumes(again)).extracting(VolumeInfo::name).containsExactly("kept");
        sr = again;
    }

    @Test
    void destroyedSrCannotBeIntroducedAndDestroyIsIdempotent() {
        thin("doomed", 8 * MIB);
        backend.destroySr(sr);
        backend.destroySr(sr);
        assertCode(() -> backend.introduceSr(sr.config()), ErrorCode.SR_NOT_FOUND);
        sr = null;
    }

    @Test
    void metadataAreaStartsZeroedAndKeepsWhatIsWritten() throws Exception {
        try (MetadataArea area = backend.openMetadata(sr)) {
            assertThat(area.sizeBytes()).isGreaterThanOrEqualTo(MIB);
            ByteBuffer head = ByteBuffer.allocate(4096);
            area.readFully(0, head);
            assertThat(head.array()).containsOnly((byte) 0);
            area.write(area.sizeBytes() - 3, ByteBuffer.wrap(new byte[] {1, 2, 3}));
            area.sync();
        }
        try (MetadataArea area = backend.openMetadata(sr)) {
            ByteBuffer tail = ByteBuffer.allocate(3);
            area.readFully(area.sizeBytes() - 3, tail);
            assertThat(tail.array()).containsExactly(1, 2, 3);
            assertThatThrownBy(() -> area.readFully(area.sizeBytes() - 2, ByteBuffer.allocate(3)))
                    .isInstanceOf(IOException.class);
        }
    }

    @Test
    void lockFileDirectoryExists() {
        assertThat(backend.lockFile(sr).getParent()).isDirectory();
    }

    // ---- volumes ----

    @Test
    void thinVolumeIsListedWithAtLeastItsSizeAndNothingAllocated() {
        VolumeInfo volume = thin("disk0", 10 * MIB + 1);
        assertThat(volume.name()).isEqualTo("disk0");
        assertThat(volume.virtualSizeBytes()).isGreaterThanOrEqualTo(10 * MIB + 1);
        assertThat(volume.provisioning()).isEqualTo(Provisioning.THIN);
        assertThat(volume.readOnly()).isFalse();
        assertThat(volume.hasOrigin()).isFalse();
        assertThat(backend.statVolume(sr, "disk0")).isEqualTo(volume);
        assertThat(backend.listVolumes(sr)).containsExactly(volume);
        AllocationMap map = backend.allocationMap(sr, "disk0");
        assertThat(map.virtualSize()).isEqualTo(volume.virtualSizeBytes());
        assertThat(map.nonZeroExtents().isEmpty()).isTrue();
        assertThat(backend.statSr(sr).virtualAllocationBytes()).isEqualTo(volume.virtualSizeBytes());
    }

    @Test
    void secondVolumeWithTheSameNameIsRefusedWithVdiExists() {
        thin("twice", 8 * MIB);
        assertCode(() -> thin("twice", 8 * MIB), ErrorCode.VDI_EXISTS);
        assertThat(backend.listVolumes(sr)).hasSize(1);
    }

    @Test
    void invalidVolumeNamesAreRefusedBeforeTouchingStorage() {
        for (String bad : List.of(
                "", ".", "..", "-rf", "a/b", "../x", "a b", "$(reboot)", "x".repeat(65), "é", ".hidden", "a\nb")) {
            assertCode(() -> thin(bad, 8 * MIB), ErrorCode.INVALID_ARGUMENT);
        }
        assertThat(backend.listVolumes(sr)).isEmpty();
    }

    @Test
    void nonPositiveSizeIsRefused() {
        assertCode(() -> thin("zero", 0), ErrorCode.INVALID_ARGUMENT);
        assertCode(() -> thin("negative", -1), ErrorCode.INVALID_ARGUMENT);
    }

    @Test
    void unknownVolumeIsVdiNotFoundEverywhere() {
        assertCode(() -> backend.statVolume(sr, "ghost"), ErrorCode.VDI_NOT_FOUND);
        assertCode(() -> backend.allocationMap(sr, "ghost"), ErrorCode.VDI_NOT_FOUND);
        assertCode(() -> backend.snapshot(sr, "ghost", "ghost-snap"), ErrorCode.VDI_NOT_FOUND);
        assertCode(() -> backend.clone(sr, "ghost", "ghost-clone"), ErrorCode.VDI_NOT_FOUND);
        assertCode(() -> backend.resize(sr, "ghost", 16 * MIB), ErrorCode.VDI_NOT_FOUND);
        assertCode(() -> backend.attach(sr, "ghost", Optional.empty(), false), ErrorCode.VDI_NOT_FOUND);
        thin("real", 8 * MIB);
        assertCode(() -> backend.delta(sr, "real", "ghost"), ErrorCode.VDI_NOT_FOUND);
    }

    @Test
    void destroyRemovesTheVolumeAndIsIdempotent() {
        thin("gone", 8 * MIB);
        assertThat(backend.destroyVolume(sr, "gone")).isTrue();
        assertThat(backend.destroyVolume(sr, "gone")).isFalse();
        assertThat(backend.listVolumes(sr)).isEmpty();
        thin("gone", 8 * MIB);
        assertThat(backend.listVolumes(sr)).extracting(VolumeInfo::name).containsExactly("gone");
    }

    @Test
    void attachIsIdempotentAndWrittenDataShowsInTheMap() throws Exception {
        long block = block();
        thin("data", 8 * block);
        Attachment first = backend.attach(sr, "data", Optional.empty(), false);
        assertThat(backend.attach(sr, "data", Optional.empty(), false)).isEqualTo(first);
        assertThat(backend.attachment(sr, "data")).contains(first);
        assertThat(first.readOnly()).isFalse();
        writePattern(first, 2 * block, block, 0x5a);
        assertThat(hasPattern(first, 2 * block, block, 0x5a)).isTrue();
        backend.detach(sr, "data");
        backend.detach(sr, "data");
        assertThat(backend.attachment(sr, "data")).isEmpty();
        AllocationMap map = backend.allocationMap(sr, "data");
        assertThat(map.nonZeroExtents()).isEqualTo(ExtentSet.of(2 * block, 3 * block));
        assertThat(map.localExtents().contains(2 * block, 3 * block)).isTrue();
        Attachment again = backend.attach(sr, "data", Optional.empty(), true);
        assertThat(hasPattern(again, 2 * block, block, 0x5a)).isTrue();
        assertThat(hasPattern(again, 0, block, 0)).isTrue();
        backend.detach(sr, "data");
    }

    @Test
    void snapshotKeepsPointInTimeContentAndDeltaHoldsOnlyLaterWrites() throws Exception {
        long block = block();
        thin("live", 16 * block);
        Attachment live = backend.attach(sr, "live", Optional.empty(), false);
        writePattern(live, 0, block, 0x11);
        VolumeInfo snapshot = backend.snapshot(sr, "live", "live-snap");
        assertThat(snapshot.readOnly()).isTrue();
        assertThat(snapshot.virtualSizeBytes())
                .isEqualTo(backend.statVolume(sr, "live").virtualSizeBytes());
        writePattern(live, 0, block / 2, 0x22);
        writePattern(live, 8 * block, block, 0x33);
        backend.detach(sr, "live");

        Attachment snap = backend.attach(sr, "live-snap", Optional.empty(), true);
        assertThat(snap.readOnly()).isTrue();
        assertThat(hasPattern(snap, 0, block, 0x11)).isTrue();
        assertThat(hasPattern(snap, 8 * block, block, 0)).isTrue();
        backend.detach(sr, "live-snap");

        ExtentSet delta = backend.delta(sr, "live", "live-snap");
        assertThat(delta.contains(0, block / 2)).isTrue();
        assertThat(delta.contains(8 * block, 9 * block)).isTrue();
        assertThat(delta.intersects(block, 8 * block)).isFalse();
        assertThat(delta.intersects(9 * block, 16 * block)).isFalse();
        assertThat(backend.delta(sr, "live-snap", "live")).isEqualTo(delta);
        assertThat(backend.delta(sr, "live", "live").isEmpty()).isTrue();
        assertThat(backend.listVolumes(sr)).extracting(VolumeInfo::name).containsExactly("live", "live-snap");
    }

    @Test
    void destroyingTheSourceLeavesItsSnapshotIntact() throws Exception {
        long block = block();
        thin("src", 4 * block);
        Attachment source = backend.attach(sr, "src", Optional.empty(), false);
        writePattern(source, block, block, 0x44);
        backend.detach(sr, "src");
        backend.snapshot(sr, "src", "src-snap");
        assertThat(backend.destroyVolume(sr, "src")).isTrue();
        assertThat(backend.listVolumes(sr)).extracting(VolumeInfo::name).containsExactly("src-snap");
        Attachment snap = backend.attach(sr, "src-snap", Optional.empty(), true);
        assertThat(hasPattern(snap, block, block, 0x44)).isTrue();
        backend.detach(sr, "src-snap");
        assertThat(backend.allocationMap(sr, "src-snap").nonZeroExtents().contains(block, 2 * block))
                .isTrue();
    }

    @Test
    void cloneIsWritableAndIndependentOfItsSource() throws Exception {
        long block = block();
        thin("base", 4 * block);
        Attachment base = backend.attach(sr, "base", Optional.empty(), false);
        writePattern(base, 0, block, 0x55);
        backend.detach(sr, "base");
        VolumeInfo clone = backend.clone(sr, "base", "base-clone");
        assertThat(clone.readOnly()).isFalse();
        Attachment cloneAttachment = backend.attach(sr, "base-clone", Optional.empty(), false);
        assertThat(hasPattern(cloneAttachment, 0, block, 0x55)).isTrue();
        writePattern(cloneAttachment, 0, block, 0x66);
        backend.detach(sr, "base-clone");
        base = backend.attach(sr, "base", Optional.empty(), true);
        assertThat(hasPattern(base, 0, block, 0x55)).isTrue();
        backend.detach(sr, "base");
        assertThat(backend.destroyVolume(sr, "base")).isTrue();
        cloneAttachment = backend.attach(sr, "base-clone", Optional.empty(), true);
        assertThat(hasPattern(cloneAttachment, 0, block, 0x66)).isTrue();
        backend.detach(sr, "base-clone");
    }

    @Test
    void snapshotOrCloneOntoATakenNameIsVdiExists() {
        thin("a", 8 * MIB);
        thin("b", 8 * MIB);
        assertCode(() -> backend.snapshot(sr, "a", "b"), ErrorCode.VDI_EXISTS);
        assertCode(() -> backend.clone(sr, "a", "b"), ErrorCode.VDI_EXISTS);
    }

    @Test
    void resizeGrowsKeepsDataRefusesShrinkAndIgnoresEqualSize() throws Exception {
        long block = block();
        VolumeInfo volume = thin("grow", 4 * block);
        Attachment attachment = backend.attach(sr, "grow", Optional.empty(), false);
        writePattern(attachment, 0, block, 0x77);
        backend.detach(sr, "grow");
        VolumeInfo grown = backend.resize(sr, "grow", 8 * block);
        assertThat(grown.virtualSizeBytes()).isGreaterThanOrEqualTo(8 * block);
        assertThat(backend.resize(sr, "grow", grown.virtualSizeBytes())).isEqualTo(grown);
        assertCode(() -> backend.resize(sr, "grow", volume.virtualSizeBytes()), ErrorCode.VDI_SHRINK_REFUSED);
        assertThat(backend.statVolume(sr, "grow").virtualSizeBytes()).isEqualTo(grown.virtualSizeBytes());
        attachment = backend.attach(sr, "grow", Optional.empty(), true);
        assertThat(hasPattern(attachment, 0, block, 0x77)).isTrue();
        assertThat(hasPattern(attachment, 6 * block, block, 0)).isTrue();
        backend.detach(sr, "grow");
        assertThat(backend.allocationMap(sr, "grow").virtualSize()).isEqualTo(grown.virtualSizeBytes());
    }

    @Test
    void preallocatedVolumeIsFullyAllocatedAndReportsProgressToTheEnd() {
        List<long[]> updates = new ArrayList<>();
        Progress recording = new Progress() {
            @Override
            public void update(long doneBytes, long totalBytes) {
                updates.add(new long[] {doneBytes, totalBytes});
            }

            @Override
            public boolean cancelled() {
                return false;
            }
        };
        VolumeInfo volume =
                backend.createVolume(sr, "full", 32 * MIB, Provisioning.PREALLOCATED, Optional.empty(), recording);
        assertThat(volume.provisioning()).isEqualTo(Provisioning.PREALLOCATED);
        assertThat(updates).isNotEmpty();
        long[] last = updates.getLast();
        assertThat(last[0]).isEqualTo(last[1]);
        for (int i = 1; i < updates.size(); i++) {
            assertThat(updates.get(i)[0]).isGreaterThanOrEqualTo(updates.get(i - 1)[0]);
        }
        AllocationMap map = backend.allocationMap(sr, "full");
        assertThat(map.localExtents()).isEqualTo(ExtentSet.of(0, volume.virtualSizeBytes()));
        assertThat(volume.physicalUtilisationBytes()).isGreaterThanOrEqualTo(volume.virtualSizeBytes());
    }

    @Test
    void cancelledPreallocationLeavesNoVolume() {
        Progress cancelAfterFirstUpdate = new Progress() {
            private boolean started;

            @Override
            public void update(long doneBytes, long totalBytes) {
                started = true;
            }

            @Override
            public boolean cancelled() {
                return started;
            }
        };
        assertCode(
                () -> backend.createVolume(
                        sr, "halfway", 256 * MIB, Provisioning.PREALLOCATED, Optional.empty(), cancelAfterFirstUpdate),
                ErrorCode.CANCELLED);
        assertThat(backend.listVolumes(sr)).isEmpty();
        assertCode(() -> backend.statVolume(sr, "halfway"), ErrorCode.VDI_NOT_FOUND);
        thin("halfway", 8 * MIB);
    }

    @Test
    void volumeWithAnOriginReadsTheOriginWhereItHasNoBlockOfItsOwn() throws Exception {
        long block = block();
        Origin origin = newOrigin(workDir, 8 * block, block, (int) block, (byte) 0x7e);
        VolumeInfo volume = backend.createVolume(
                sr, "from-template", 16 * block, Provisioning.THIN, Optional.of(origin), Progress.NONE);
        assertThat(volume.hasOrigin()).isTrue();
        assertThat(volume.virtualSizeBytes()).isGreaterThanOrEqualTo(16 * block);
        AllocationMap before = backend.allocationMap(sr, "from-template");
        assertThat(before.localExtents().isEmpty()).isTrue();
        assertThat(before.nonZeroExtents().contains(block, 2 * block)).isTrue();
        int runAtOrigin = before.runIndexAt(block);
        assertThat(before.runProvenance(runAtOrigin).depth()).isGreaterThanOrEqualTo(1);

        Attachment attachment = backend.attach(sr, "from-template", Optional.of(origin), false);
        assertThat(hasPattern(attachment, block, block, 0x7e)).isTrue();
        assertThat(hasPattern(attachment, 12 * block, block, 0)).isTrue();
        writePattern(attachment, 4 * block, block, 0x01);
        backend.detach(sr, "from-template");
        AllocationMap after = backend.allocationMap(sr, "from-template");
        assertThat(after.localExtents().contains(4 * block, 5 * block)).isTrue();
        assertThat(after.localExtents().contains(block, 2 * block)).isFalse();

        VolumeInfo snapshot = backend.snapshot(sr, "from-template", "from-template-snap");
        assertThat(snapshot.hasOrigin()).isTrue();
        Attachment snap = backend.attach(sr, "from-template-snap", Optional.of(origin), true);
        assertThat(hasPattern(snap, block, block, 0x7e)).isTrue();
        assertThat(hasPattern(snap, 4 * block, block, 0x01)).isTrue();
        backend.detach(sr, "from-template-snap");
    }

    @Test
    void preallocatedWithAnOriginIsInvalid() throws Exception {
        Origin origin = newOrigin(workDir, 4 * MIB, 0, 4096, (byte) 1);
        assertCode(
                () -> backend.createVolume(
                        sr, "nope", 8 * MIB, Provisioning.PREALLOCATED, Optional.of(origin), Progress.NONE),
                ErrorCode.INVALID_ARGUMENT);
        assertThat(backend.listVolumes(sr)).isEmpty();
    }

    @Test
    void destroyingAnAttachedVolumeDetachesIt() throws Exception {
        thin("busy", 8 * MIB);
        backend.attach(sr, "busy", Optional.empty(), false);
        assertThat(backend.destroyVolume(sr, "busy")).isTrue();
        assertThat(backend.attachment(sr, "busy")).isEmpty();
        assertThat(backend.listVolumes(sr)).isEmpty();
    }

    @Test
    void destroyingAnSrWithAttachedVolumesDetachesThem() throws Exception {
        thin("attached", 8 * MIB);
        backend.attach(sr, "attached", Optional.empty(), false);
        backend.destroySr(sr);
        assertCode(() -> backend.introduceSr(sr.config()), ErrorCode.SR_NOT_FOUND);
        sr = null;
    }
}
