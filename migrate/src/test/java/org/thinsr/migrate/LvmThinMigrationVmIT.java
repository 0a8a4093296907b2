package org.thinsr.migrate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.BlockSink;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.lifecycle.Attachments;
import org.thinsr.lifecycle.Backends;
import org.thinsr.lifecycle.CommandRunner;
import org.thinsr.lifecycle.Lifecycle;
import org.thinsr.lifecycle.Progress;
import org.thinsr.lifecycle.Provisioning;
import org.thinsr.lifecycle.SrConfig;
import org.thinsr.lifecycle.SrRef;
import org.thinsr.lifecycle.ThinsrHome;
import org.thinsr.lifecycle.UriSchemes;
import org.thinsr.lifecycle.VdiView;

/**
 * Migration between two lvm-thin SRs (two thin pools on two disks) on real kernel dm-thin, inside
 * the VM of {@code scripts/test-vm}: the full pass copies the source's mapped thin blocks, the delta
 * passes come from {@code thin_dump} of two snapshots while a writer keeps changing the source, and
 * {@code qemu-img compare} of the two block devices says identical.
 */
class LvmThinMigrationVmIT {
    private static final long MIB = 1 << 20;
    private static final long SIZE = 96 * MIB;

    @TempDir
    Path dir;

    private Lifecycle lifecycle;
    private final List<Optional<SrRef>> srs = new ArrayList<>();
    private Optional<SrRef> source;
    private Optional<SrRef> target;

    @BeforeEach
    void createSrs() throws IOException {
        List<String> disks = disks();
        MigrationTesting.require("qemu-img", "qemu-utils");
        lifecycle = new Lifecycle(
                Backends.standard(),
                UriSchemes.standard(List.of(), Map.of(), Optional.empty()),
                new ThinsrHome(dir.resolve("home")),
                CommandRunner.PROCESSES,
                Duration.ofMinutes(2),
                Clock.systemUTC());
        // the last two scratch disks: the lifecycle module's *VmIT hand out the first ones first
        source = Optional.of(lvmSr(disks.get(disks.size() - 2), "thinsr_mig_a"));
        target = Optional.of(lvmSr(disks.get(disks.size() - 1), "thinsr_mig_b"));
    }

    private SrRef lvmSr(String disk, String vg) throws IOException {
        wipe(disk);
        SrRef ref = new SrRef(Backends.LVM_THIN, new SrConfig(Map.of("device", disk, "vg", vg)));
        lifecycle.srCreate(ref, Optional.empty(), vg, "");
        srs.add(Optional.of(ref));
        return ref;
    }

    @AfterEach
    void destroySrs() {
        for (Optional<SrRef> sr : srs) {
            for (VdiView vdi : lifecycle.vdiList(sr)) {
                assertThat(vdi.attachment()).as("left attached: " + vdi.uuid()).isNull();
            }
            lifecycle.srDestroy(sr.orElseThrow(), true);
        }
    }

    @Test
    void copyBetweenTwoThinPoolsSendsTheMappedBlocksAndVerifies() throws Exception {
        VdiView vdi = sourceVdi();
        long mapped = lifecycle.vdiMap(source, vdi.uuid()).nonZeroExtents().totalLength();
        Migration.Report report;
        try (LocalDestination destination = new LocalDestination(lifecycle, target)) {
            report = new Migration(
                            lifecycle,
                            source,
                            destination,
                            MigrationTesting.options(dir.resolve("state"), false, 2),
                            MigrationTesting.QUIET,
                            () -> false)
                    .run(vdi.uuid());
        }
        assertThat(report.verified()).isTrue();
        assertThat(report.passes()).as("source not in use: no delta pass").isEqualTo(1);
        assertThat(report.sentBytes()).isEqualTo(mapped).isLessThan(SIZE / 2);
        VdiView copy = lifecycle.vdiStat(target, report.destinationVdi());
        assertSameContent(vdi.uuid(), copy.uuid());
        assertThat(lifecycle.vdiMap(target, copy.uuid()).nonZeroExtents().totalLength())
                .as("the copy is as thin as the source")
                .isLessThanOrEqualTo(mapped);
        assertThat(lifecycle.vdiList(source)).as("snapshots removed").hasSize(1);
    }

    @Test
    void writerDuringTheCopyIsCaughtByDeltaPassesFromThinDump() throws Exception {
        VdiView vdi = sourceVdi();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong written = new AtomicLong();
        List<Long> deltaBytes = new ArrayList<>();
        List<Long> writtenBefore = new ArrayList<>();
        Migration.Listener stopDuringSecondPass = new Migration.Listener() {
            @Override
            public void pass(int pass, long bytesToSend, long bytesToZero) {
                if (pass >= 2) {
                    deltaBytes.add(bytesToSend + bytesToZero);
                    writtenBefore.add(written.get());
                }
                if (pass == 3) {
                    stop.set(true);
                }
            }

            @Override
            public void progress(int pass, long sentBytes, long zeroedBytes, long totalData, long totalZeros) {}
        };
        BlockSink writer = Attachments.openSink(lifecycle.vdiAttach(source, vdi.uuid(), false));
        List<Exception> writerFailures = new ArrayList<>();
        Thread thread = new Thread(() -> {
            Random random = new Random(21);
            try {
                while (!stop.get()) {
                    byte[] data = new byte[65536];
                    random.nextBytes(data);
                    writer.write(random.nextLong(SIZE / 65536) * 65536, ByteBuffer.wrap(data));
                    writer.flush();
                    written.addAndGet(data.length);
                    Thread.sleep(50);
                }
            } catch (IOException | InterruptedException e) {
                writerFailures.add(e);
            }
        });
        Migration.Report report;
        thread.start();
        try (LocalDestination destination = new LocalDestination(lifecycle, target)) {
            report = new Migration(
                            lifecycle,
                            source,
                            destination,
                            MigrationTesting.options(dir.resolve("state"), false, 4),
                            stopDuringSecondPass,
                            () -> false)
                    .run(vdi.uuid());
        } finally {
            stop.set(true);
            thread.join();
            writer.close();
            lifecycle.vdiDetach(source, vdi.uuid());
        }
        assertThat(writerFailures).isEmpty();
        assertThat(report.passes()).isGreaterThanOrEqualTo(3);
        for (int i = 0; i < deltaBytes.size(); i++) {
            assertThat(deltaBytes.get(i))
                    .as("delta pass %d sends what thin_dump says changed: at most what the writer wrote", i + 2)
                    .isLessThanOrEqualTo(writtenBefore.get(i));
        }
        assertThat(deltaBytes.getFirst())
                .as("the first delta pass has the writes made during the full pass")
                .isPositive();
        assertSameContent(vdi.uuid(), report.destinationVdi());
    }

    /** 96 MiB thin VDI: 1 MiB of random data every 9 MiB, a zeroed run, a last sector; holes elsewhere. */
    private VdiView sourceVdi() throws IOException {
        VdiView vdi = lifecycle.vdiCreate(source, "db disk", "", SIZE, Provisioning.THIN, Map.of(), Progress.NONE);
        Random random = new Random(20);
        try (BlockSink sink = Attachments.openSink(lifecycle.vdiAttach(source, vdi.uuid(), false))) {
            for (long offset = 0; offset < SIZE; offset += 9 * MIB) {
                byte[] data = new byte[(int) MIB];
                random.nextBytes(data);
                sink.write(offset, ByteBuffer.wrap(data));
            }
            sink.write(SIZE - 512, ByteBuffer.wrap(new byte[] {7, 7, 7}));
            sink.writeZeroes(4 * MIB, 2 * MIB);
            sink.flush();
        } finally {
            lifecycle.vdiDetach(source, vdi.uuid());
        }
        ExtentSet data = lifecycle.vdiMap(source, vdi.uuid()).nonZeroExtents();
        assertThat(data.totalLength())
                .as("thin: only the written blocks are mapped")
                .isLessThan(SIZE / 2);
        return lifecycle.vdiStat(source, vdi.uuid());
    }

    private void assertSameContent(String sourceUuid, String copyUuid) throws Exception {
        String a = lifecycle.vdiAttach(source, sourceUuid, true).target();
        String b = lifecycle.vdiAttach(target, copyUuid, true).target();
        try {
            Process compare = new ProcessBuilder("qemu-img", "compare", "-f", "raw", "-F", "raw", a, b)
                    .redirectErrorStream(true)
                    .start();
            String output = new String(compare.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(compare.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(compare.exitValue()).as(output).isZero();
        } finally {
            lifecycle.vdiDetach(source, sourceUuid);
            lifecycle.vdiDetach(target, copyUuid);
        }
    }

    /** The VM's scratch disks; fails (never skips) outside the VM. */
    private static List<String> disks() {
        String disks = System.getenv("THINSR_VM_DISKS");
        if (disks == null || disks.isBlank()) {
            return fail("THINSR_VM_DISKS is not set: *VmIT tests need a kernel with device-mapper;"
                    + " run them with scripts/test-vm (it boots scripts/dmthin-vm/run-in-vm)");
        }
        MigrationTesting.require("lvcreate", "lvm2");
        MigrationTesting.require("thin_dump", "thin-provisioning-tools");
        List<String> list = List.of(disks.trim().split("\\s+"));
        assertThat(list).as("scratch disks").hasSizeGreaterThanOrEqualTo(2);
        return list;
    }

    /** Removes a VG and PV label that an earlier (failed) test left on {@code disk}. */
    private static void wipe(String disk) {
        String pvs = run("pvs", "--noheadings", "-o", "pv_name,vg_name");
        for (String line : pvs.split("\n", -1)) {
            String[] fields = line.trim().split("\\s+", -1);
            if (fields[0].equals(disk)) {
                if (fields.length > 1 && !fields[1].isEmpty()) {
                    run("vgremove", "-q", "-f", fields[1]);
                }
                run("pvremove", "-q", "-f", disk);
            }
        }
    }

    private static String run(String... command) {
        try {
            Process process =
                    new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(120, TimeUnit.SECONDS) || process.exitValue() != 0) {
                return fail(String.join(" ", command) + " failed: " + output);
            }
            return output;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
