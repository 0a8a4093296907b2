package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Kills a child JVM ({@link CrashChild}) at injected points of vdi-create, vdi-snapshot and
 * vdi-destroy and checks that the SR is consistent afterwards: the metadata is the state before or
 * after the operation, never a mix; every disk's volume exists; after recovery no volume exists
 * that the metadata does not know; the VDIs that existed before are intact.
 */
class CrashSafetyIT {
    @TempDir
    Path workDir;

    private Lifecycle lifecycle;
    private Optional<SrRef> sr;
    private VdiView existing;

    @BeforeEach
    void createSrWithOneDisk() {
        Tools.require("qemu-img", "qemu-utils");
        lifecycle = TestLifecycles.create(workDir, Duration.ofSeconds(30));
        SrRef ref = SrRef.file(workDir.resolve("sr"));
        lifecycle.srCreate(ref, Optional.empty(), "crash", "");
        sr = Optional.of(ref);
        existing = lifecycle.vdiCreate(sr, "existing", "", 4 << 20, Provisioning.THIN, Map.of(), Progress.NONE);
    }

    private int runChild(String crashPoint, String... operation) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> argv = new ArrayList<>(List.of(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                "-Dthinsr.crashPoint=" + crashPoint,
                CrashChild.class.getName(),
                workDir.toString(),
                sr.get().text()));
        argv.addAll(List.of(operation));
        Process process = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(120, TimeUnit.SECONDS))
                .as("child finished: %s", output)
                .isTrue();
        return process.exitValue();
    }

    private Set<String> volumeFiles() throws IOException {
        try (Stream<Path> files = Files.list(workDir.resolve("sr"))) {
            return files.map(path -> path.getFileName().toString())
                    .filter(name -> !name.startsWith(".") && (name.endsWith(".qcow2") || name.endsWith(".raw")))
                    .map(name -> name.substring(0, name.lastIndexOf('.')))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }

    /** After the crash and recovery: metadata and volumes agree, and the old disk is intact. */
    private List<VdiView> assertConsistent() throws IOException {
        List<VdiView> vdis = lifecycle.vdiList(sr);
        Set<String> known = vdis.stream().map(VdiView::volume).collect(Collectors.toCollection(TreeSet::new));
        assertThat(volumeFiles()).isEqualTo(known);
        assertThat(vdis).extracting(VdiView::uuid).contains(existing.uuid());
        assertThat(lifecycle.vdiStat(sr, existing.uuid()).virtualSizeBytes()).isEqualTo(existing.virtualSizeBytes());
        Path hidden = workDir.resolve("sr");
        try (Stream<Path> files = Files.list(hidden)) {
            assertThat(files.map(path -> path.getFileName().toString())).noneMatch(name -> name.startsWith(".tmp-"));
        }
        return vdis;
    }

    private void assertCreateCrashLeftOldOrNew(String point, String operation) throws Exception {
        int status = runChild(point, operation);
        assertThat(status).as("child exit status at %s", point).isEqualTo(CrashPoints.EXIT_STATUS);
        List<VdiView> vdis = assertConsistent();
        assertThat(vdis.size()).as("VDIs after a crash at %s", point).isIn(1, 2);
        if (vdis.size() == 2) {
            VdiView made = vdis.stream()
                    .filter(v -> !v.uuid().equals(existing.uuid()))
                    .findFirst()
                    .orElseThrow();
            assertThat(made.nameLabel()).isEqualTo("crashy");
            assertThat(lifecycle.vdiMap(sr, made.uuid()).virtualSize()).isEqualTo(made.virtualSizeBytes());
        }
        // the SR stays usable: the same label can be created again
        VdiView again = lifecycle.vdiCreate(sr, "crashy", "", 4 << 20, Provisioning.THIN, Map.of(), Progress.NONE);
        assertThat(lifecycle.vdiStat(sr, again.uuid()).volume()).isNotBlank();
    }

    @Test
    void vdiCreateKilledAfterWritingSlotDataBeforeTheHeaderLeavesNoVdi() throws Exception {
        assertCreateCrashLeftOldOrNew(CrashPoints.METADATA_AFTER_PAYLOAD, "create");
        assertThat(lifecycle.vdiList(sr))
                .extracting(VdiView::nameLabel)
                .containsExactlyInAnyOrder("existing", "crashy");
    }

    @Test
    void vdiCreateKilledAfterTheHeaderBeforeItsSync() throws Exception {
        assertCreateCrashLeftOldOrNew(CrashPoints.METADATA_AFTER_HEADER, "create");
    }

    @Test
    void vdiCreateKilledAfterTheIntentLeavesNoVdi() throws Exception {
        assertCreateCrashLeftOldOrNew("vdi-create." + CrashPoints.AFTER_INTENT, "create");
        assertThat(lifecycle.vdiList(sr)).hasSize(2);
    }

    @Test
    void vdiCreateKilledAfterTheVolumeWasMadeRemovesTheOrphanVolume() throws Exception {
        assertCreateCrashLeftOldOrNew("vdi-create." + CrashPoints.AFTER_BACKEND, "create");
        assertThat(lifecycle.vdiList(sr)).hasSize(2);
    }

    @Test
    void vdiCreateKilledInTheFinalCommitPayload() throws Exception {
        assertCreateCrashLeftOldOrNew(CrashPoints.METADATA_AFTER_PAYLOAD + "#2", "create");
    }

    @Test
    void vdiCreateKilledAfterTheFinalCommitKeepsTheNewVdi() throws Exception {
        int status = runChild(CrashPoints.METADATA_AFTER_HEADER + "#2", "create");
        assertThat(status).isEqualTo(CrashPoints.EXIT_STATUS);
        assertThat(assertConsistent()).extracting(VdiView::nameLabel).containsExactlyInAnyOrder("existing", "crashy");
    }

    @Test
    void preallocatingVdiCreateKilledMidwayLeavesNoHalfMadeVdi() throws Exception {
        assertCreateCrashLeftOldOrNew("vdi-create." + CrashPoints.AFTER_INTENT, "create-preallocated");
    }

    private void assertSnapshotCrashLeftOldOrNew(String point) throws Exception {
        int status = runChild(point, "snapshot", existing.uuid());
        assertThat(status).as("child exit status at %s", point).isEqualTo(CrashPoints.EXIT_STATUS);
        List<VdiView> vdis = assertConsistent();
        assertThat(vdis.size()).isIn(1, 2);
        for (VdiView vdi : vdis) {
            if (!vdi.uuid().equals(existing.uuid())) {
                assertThat(vdi.readOnly()).isTrue();
                assertThat(vdi.keys()).containsEntry("snapshot_of", existing.uuid());
            }
        }
        VdiView snapshot = lifecycle.vdiSnapshot(sr, existing.uuid());
        assertThat(lifecycle.vdiStat(sr, snapshot.uuid()).readOnly()).isTrue();
        assertThat(lifecycle.vdiStat(sr, existing.uuid()).readOnly()).isFalse();
    }

    @Test
    void vdiSnapshotKilledAfterWritingSlotDataBeforeTheHeader() throws Exception {
        assertSnapshotCrashLeftOldOrNew(CrashPoints.METADATA_AFTER_PAYLOAD);
    }

    @Test
    void vdiSnapshotKilledAfterTheIntent() throws Exception {
        assertSnapshotCrashLeftOldOrNew("vdi-snapshot." + CrashPoints.AFTER_INTENT);
    }

    @Test
    void vdiSnapshotKilledBetweenLinkingTheBaseAndTheOverlays() throws Exception {
        assertSnapshotCrashLeftOldOrNew("file.snapshot.after-link");
    }

    @Test
    void vdiSnapshotKilledAfterTheCopyWasRenamedBeforeTheSource() throws Exception {
        assertSnapshotCrashLeftOldOrNew("file.snapshot.after-copy");
    }

    @Test
    void vdiSnapshotKilledAfterTheBackendBeforeTheCommit() throws Exception {
        assertSnapshotCrashLeftOldOrNew("vdi-snapshot." + CrashPoints.AFTER_BACKEND);
    }

    @Test
    void vdiSnapshotKilledInTheFinalCommit() throws Exception {
        assertSnapshotCrashLeftOldOrNew(CrashPoints.METADATA_AFTER_PAYLOAD + "#2");
    }

    @Test
    void vdiDestroyKilledAfterTheIntentFinishesTheDestroyOnRecovery() throws Exception {
        int status = runChild("vdi-destroy." + CrashPoints.AFTER_INTENT, "destroy", existing.uuid());
        assertThat(status).isEqualTo(CrashPoints.EXIT_STATUS);
        assertThat(lifecycle.vdiList(sr)).isEmpty();
        assertThat(volumeFiles()).isEmpty();
    }

    @Test
    void vdiDestroyKilledAfterMergingTheBaseKeepsTheSourceAndMergesAtTheNextDestroy() throws Exception {
        Tools.require("qemu-io", "qemu-utils");
        Path volume = workDir.resolve("sr").resolve(existing.volume() + ".qcow2");
        qemuIo(volume, "write -q -P 7 0 64k");
        VdiView snapshot = lifecycle.vdiSnapshot(sr, existing.uuid());
        qemuIo(volume, "write -q -P 9 64k 64k");
        int status = runChild("file.coalesce.after-commit", "destroy", snapshot.uuid());
        assertThat(status).isEqualTo(CrashPoints.EXIT_STATUS);
        assertThat(assertConsistent()).extracting(VdiView::uuid).containsExactly(existing.uuid());
        assertThat(hiddenBases())
                .as("the merged base is still under the volume")
                .hasSize(1);
        qemuIo(volume, "read -q -P 7 0 64k");
        qemuIo(volume, "read -q -P 9 64k 64k");

        lifecycle.vdiDestroy(sr, lifecycle.vdiSnapshot(sr, existing.uuid()).uuid());
        assertThat(hiddenBases()).as("merged at the next destroy").isEmpty();
        qemuIo(volume, "read -q -P 7 0 64k");
        qemuIo(volume, "read -q -P 9 64k 64k");
    }

    private Set<String> hiddenBases() throws IOException {
        try (Stream<Path> files = Files.list(workDir.resolve("sr"))) {
            return files.map(path -> path.getFileName().toString())
                    .filter(name -> name.startsWith(".base-"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private static void qemuIo(Path image, String command) throws Exception {
        Process process = new ProcessBuilder("qemu-io", "-f", "qcow2", "-c", command, image.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("qemu-io %s: %s", command, output).isZero();
        assertThat(output).as("qemu-io %s", command).doesNotContain("Pattern verification failed");
    }

    @Test
    void secondProcessWaitsBoundedThenFailsWithSrLocked() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process holder = new ProcessBuilder(
                        java,
                        "-cp",
                        System.getProperty("java.class.path"),
                        CrashChild.class.getName(),
                        workDir.toString(),
                        sr.get().text(),
                        "lock-and-sleep")
                .redirectErrorStream(true)
                .start();
        try {
            BufferedReader reader =
                    new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            assertThat(reader.readLine()).isEqualTo("locked");
            Lifecycle impatient = TestLifecycles.create(workDir, Duration.ofMillis(500));
            long started = System.nanoTime();
            assertThatThrownBy(() -> impatient.vdiList(sr)).isInstanceOfSatisfying(ThinsrException.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.SR_LOCKED);
                assertThat(e.getMessage())
                        .contains("held by process " + holder.pid())
                        .contains("gave up after 500 ms");
            });
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(10));
        } finally {
            holder.destroyForcibly();
            holder.waitFor(10, TimeUnit.SECONDS);
        }
        // the kernel released the dead holder's lock
        assertThat(lifecycle.vdiList(sr)).hasSize(1);
    }
}
