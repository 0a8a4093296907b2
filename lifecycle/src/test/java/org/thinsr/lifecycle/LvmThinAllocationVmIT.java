package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.Provenance;
import org.thinsr.allocmap.State;

/**
 * {@link LvmThinBackend} against the real tools on real kernel dm-thin (inside the VM, {@code
 * scripts/test-vm}): allocation maps after {@code dd oflag=direct} at known offsets against what was
 * written and what {@code thin_dump} prints, deltas against {@code thin_delta}, an external origin
 * served by {@code qemu-nbd}, pool growth and the be-nice mode's respect for other LVs.
 */
class LvmThinAllocationVmIT {
    private static final long MIB = 1 << 20;
    private static final AtomicInteger SR_NUMBER = new AtomicInteger();
    private static final Pattern SINGLE = Pattern.compile("<single_mapping origin_block=\"(\\d+)\"");
    private static final Pattern RANGE =
            Pattern.compile("<range_mapping origin_begin=\"(\\d+)\" data_begin=\"\\d+\" length=\"(\\d+)\"");
    private static final Pattern BLOCK_SIZE = Pattern.compile("data_block_size=\"(\\d+)\"");
    private static final Pattern DELTA =
            Pattern.compile("<(different|left_only|right_only) begin=\"(\\d+)\" length=\"(\\d+)\"");

    @TempDir
    Path workDir;

    private LvmThinBackend backend;
    private SrInfo sr;
    private String vg;

    @BeforeEach
    void createSr() {
        backend = new LvmThinBackend(LvmVm.RUNNER, workDir.resolve("locks"), 64 * MIB);
        vg = "thinsr_alloc" + SR_NUMBER.incrementAndGet();
        sr = backend.createSr(new SrConfig(Map.of("device", LvmVm.freshDisk(), "vg", vg)));
    }

    @AfterEach
    void destroySr() {
        if (sr != null) {
            backend.destroySr(sr);
        }
    }

    @Test
    void allocationMapIsWhatDdWroteAndWhatThinDumpSays() {
        long block = backend.blockSizeBytes(sr);
        backend.createVolume(sr, "mapped", 64 * MIB, Provisioning.THIN, Optional.empty(), Progress.NONE);
        Attachment attachment = backend.attach(sr, "mapped", Optional.empty(), false);
        ExtentSet written = ExtentSet.builder()
                .add(0, 4096)
                .add(10 * block + 8192, 11 * block + 8192) // straddles two blocks
                .add(40 * MIB, 41 * MIB)
                .add(64 * MIB - 4096, 64 * MIB)
                .build();
        dd(attachment.target(), written);
        backend.detach(sr, "mapped");

        AllocationMap map = backend.allocationMap(sr, "mapped");
        assertThat(map.localExtents()).isEqualTo(written.alignOut(block));
        assertThat(map.extentsIn(State.DATA)).isEqualTo(written.alignOut(block));
        assertThat(map.extentsIn(State.HOLE)).isEqualTo(written.alignOut(block).complement(64 * MIB));
        assertThat(map.localExtents()).isEqualTo(mappedByThinDump(thinId("mapped")));
    }

    @Test
    void deltaAgainstASnapshotIsWhatThinDeltaSays() {
        long block = backend.blockSizeBytes(sr);
        backend.createVolume(sr, "live", 32 * MIB, Provisioning.THIN, Optional.empty(), Progress.NONE);
        Attachment live = backend.attach(sr, "live", Optional.empty(), false);
        dd(live.target(), ExtentSet.builder().add(0, MIB).add(8 * MIB, 9 * MIB).build());
        backend.detach(sr, "live");
        backend.snapshot(sr, "live", "live-snap");
        live = backend.attach(sr, "live", Optional.empty(), false);
        ExtentSet later = ExtentSet.builder()
                .add(4 * MIB + block, 4 * MIB + 3 * block)
                .add(8 * MIB, 8 * MIB + block)
                .add(31 * MIB, 32 * MIB)
                .build();
        dd(live.target(), later);
        backend.detach(sr, "live");

        ExtentSet delta = backend.delta(sr, "live", "live-snap");
        assertThat(delta).isEqualTo(later.alignOut(block));
        assertThat(delta).isEqualTo(thinDelta(thinId("live-snap"), thinId("live")));
        assertThat(backend.delta(sr, "live-snap", "live")).isEqualTo(delta);
    }

    @Test
    void qcow2OriginThroughQemuNbdReadsThroughAndIsReleasedOnDetach() throws Exception {
        Path qemuImg = Tools.require("qemu-img", "qemu-utils");
        Path qemuIo = Tools.require("qemu-io", "qemu-utils");
        Tools.require("qemu-nbd", "qemu-utils");
        Path image = workDir.resolve("template.qcow2");
        LvmVm.run(qemuImg.toString(), "create", "-q", "-f", "qcow2", image.toString(), "16M");
        LvmVm.run(qemuIo.toString(), "-f", "qcow2", "-c", "write -P 0x42 1M 2M", image.toString());
        Origin origin = new Origin(image.toString(), "qcow2", 16 * MIB);

        backend.createVolume(sr, "clone", 32 * MIB, Provisioning.THIN, Optional.of(origin), Progress.NONE);
        AllocationMap before = backend.allocationMap(sr, "clone");
        assertThat(before.localExtents().isEmpty()).isTrue();
        assertThat(before.extentsIn(State.DATA)).isEqualTo(ExtentSet.of(MIB, 3 * MIB));
        assertThat(before.runProvenance(before.runIndexAt(MIB)).depth()).isGreaterThanOrEqualTo(1);
        assertThat(before.runState(before.runIndexAt(20 * MIB))).isEqualTo(State.HOLE);

        Attachment attachment = backend.attach(sr, "clone", Optional.of(origin), false);
        assertThat(attachment.target()).startsWith("/dev/mapper/" + LvmThinBackend.EXTERNAL_DM_PREFIX);
        String table = LvmVm.run(
                "dmsetup", "table", Path.of(attachment.target()).getFileName().toString());
        assertThat(table).contains(" thin ");
        assertThat(readByte(attachment.target(), 2 * MIB)).isEqualTo((byte) 0x42);
        assertThat(readByte(attachment.target(), 20 * MIB)).isZero();
        dd(attachment.target(), ExtentSet.of(0, 64 << 10));
        backend.detach(sr, "clone");
        assertThat(backend.attachment(sr, "clone")).isEmpty();
        assertThat(connectedNbdDevices()).isEmpty();

        AllocationMap after = backend.allocationMap(sr, "clone");
        assertThat(after.localExtents()).isEqualTo(ExtentSet.of(0, backend.blockSizeBytes(sr)));
        assertThat(after.runProvenance(after.runIndexAt(0))).isEqualTo(Provenance.LOCAL);
        assertThat(after.extentsIn(State.DATA))
                .isEqualTo(ExtentSet.of(0, backend.blockSizeBytes(sr)).union(ExtentSet.of(MIB, 3 * MIB)));
    }

    @Test
    void ownTheWorldPoolStartsSmallAndGrowsBeforeItFills() {
        LvmReport.LogicalVolume pool = pool();
        LvmReport.VolumeGroup group = LvmReport.parseVolumeGroups(LvmVm.run(
                        "vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", LvmReport.VG_FIELDS, vg))
                .getFirst();
        assertThat(pool.sizeBytes()).isLessThan(group.sizeBytes() / 4);
        backend.createVolume(sr, "big", 1024 * MIB, Provisioning.THIN, Optional.empty(), Progress.NONE);
        Attachment big = backend.attach(sr, "big", Optional.empty(), false);
        long written = pool.sizeBytes() - 32 * MIB;
        dd(big.target(), ExtentSet.of(0, written));
        backend.detach(sr, "big");
        backend.createVolume(sr, "next", 8 * MIB, Provisioning.THIN, Optional.empty(), Progress.NONE);
        LvmReport.LogicalVolume grown = pool();
        long free = grown.sizeBytes() - (long) (grown.sizeBytes() * grown.dataPercent() / 100);
        assertThat(grown.sizeBytes()).isGreaterThan(pool.sizeBytes());
        assertThat(free).isGreaterThanOrEqualTo(Math.max(64 * MIB, group.sizeBytes() / 20) - group.extentSizeBytes());
        // the VG's remaining space is still there for a preallocated (regular) LV
        VolumeInfo full = backend.createVolume(
                sr, "full", 1024 * MIB, Provisioning.PREALLOCATED, Optional.empty(), Progress.NONE);
        assertThat(full.provisioning()).isEqualTo(Provisioning.PREALLOCATED);
        assertThat(allLvTags())
                .allSatisfy((name, tags) -> assertThat(tags).as(name).contains(LvmThinBackend.TAG));
    }

    @Test
    void beNiceModeNeverTouchesOtherLogicalVolumes() {
        backend.destroySr(sr);
        sr = null;
        String disk = LvmVm.freshDisk();
        String userVg = "user_vg" + SR_NUMBER.incrementAndGet();
        LvmVm.run("vgcreate", "-q", userVg, disk);
        LvmVm.run("lvcreate", "-q", "-y", "-L", "16m", "-n", "home", userVg);
        sr = backend.createSr(new SrConfig(Map.of("vg", userVg, "pool-size", String.valueOf(128 * MIB))));
        assertThat(sr.configuration()).containsEntry("mode", "be-nice");
        backend.createVolume(sr, "guest", 16 * MIB, Provisioning.THIN, Optional.empty(), Progress.NONE);
        assertThat(backend.listVolumes(sr)).extracting(VolumeInfo::name).containsExactly("guest");
        assertThat(backend.destroyVolume(sr, "home")).isFalse();
        vg = userVg;
        assertThat(pool().sizeBytes()).isEqualTo(128 * MIB);
        backend.destroySr(sr);
        sr = null;
        String left = LvmVm.run("lvs", "--noheadings", "-o", "lv_name", userVg);
        assertThat(left.strip()).isEqualTo("home");
        LvmVm.run("vgremove", "-q", "-f", userVg);
        LvmVm.run("pvremove", "-q", disk);
    }

    // ---- helpers: the real tools, read independently of the backend ----

    private static void dd(String device, ExtentSet ranges) {
        for (int i = 0; i < ranges.size(); i++) {
            long start = ranges.start(i);
            long length = ranges.end(i) - start;
            assertThat(start % 4096).isZero();
            assertThat(length % 4096).isZero();
            LvmVm.run(
                    "dd",
                    "if=/dev/urandom",
                    "of=" + device,
                    "bs=4096",
                    "seek=" + start / 4096,
                    "count=" + length / 4096,
                    "oflag=direct",
                    "iflag=fullblock",
                    "conv=notrunc,fsync",
                    "status=none");
        }
    }

    private static byte readByte(String device, long offset) throws Exception {
        try (FileChannel channel = FileChannel.open(Path.of(device), StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocate(1);
            channel.read(buffer, offset);
            return buffer.get(0);
        }
    }

    private static List<String> connectedNbdDevices() throws Exception {
        try (var devices = Files.list(Path.of("/sys/block"))) {
            return devices.filter(d -> d.getFileName().toString().startsWith("nbd"))
                    .filter(d -> Files.exists(d.resolve("pid")))
                    .map(d -> d.getFileName().toString())
                    .toList();
        }
    }

    private long thinId(String lv) {
        return Long.parseLong(
                LvmVm.run("lvs", "--noheadings", "-o", "thin_id", vg + "/" + lv).strip());
    }

    private LvmReport.LogicalVolume pool() {
        return LvmReport.parseLogicalVolumes(LvmVm.run(
                        "lvs",
                        "--reportformat",
                        "json",
                        "--units",
                        "b",
                        "--nosuffix",
                        "-o",
                        LvmReport.LV_FIELDS,
                        vg + "/" + LvmThinBackend.POOL_NAME))
                .getFirst();
    }

    private Map<String, java.util.Set<String>> allLvTags() {
        Map<String, java.util.Set<String>> tags = new java.util.TreeMap<>();
        for (LvmReport.LogicalVolume lv : LvmReport.parseLogicalVolumes(LvmVm.run(
                "lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", LvmReport.LV_FIELDS, vg))) {
            tags.put(lv.name(), lv.tags());
        }
        return tags;
    }

    private String poolDevice() {
        return "/dev/mapper/" + vg + "-" + LvmThinBackend.POOL_NAME + "-tpool";
    }

    private String metadataDevice() {
        return "/dev/mapper/" + vg + "-" + LvmThinBackend.POOL_NAME + "_tmeta";
    }

    private String withMetadataSnapshot(List<String> command) {
        LvmVm.run("lvchange", "-q", "-ay", vg + "/" + LvmThinBackend.POOL_NAME);
        LvmVm.run("dmsetup", "message", poolDevice(), "0", "reserve_metadata_snap");
        try {
            return LvmVm.RUNNER.run(command);
        } finally {
            LvmVm.run("dmsetup", "message", poolDevice(), "0", "release_metadata_snap");
        }
    }

    /** The device's mapped bytes as the real thin_dump prints them (read with a regex, not with the ThinDumpParser under test). */
    private ExtentSet mappedByThinDump(long thinId) {
        String xml =
                withMetadataSnapshot(List.of("thin_dump", "-m", "--dev-id", String.valueOf(thinId), metadataDevice()));
        long blockBytes = blockBytes(xml);
        ExtentSet.Builder mapped = ExtentSet.builder();
        Matcher single = SINGLE.matcher(xml);
        while (single.find()) {
            long block = Long.parseLong(single.group(1));
            mapped.add(block * blockBytes, (block + 1) * blockBytes);
        }
        Matcher range = RANGE.matcher(xml);
        while (range.find()) {
            long begin = Long.parseLong(range.group(1));
            mapped.add(begin * blockBytes, (begin + Long.parseLong(range.group(2))) * blockBytes);
        }
        return mapped.build();
    }

    /** What the real thin_delta reports as different, left-only or right-only, in bytes. */
    private ExtentSet thinDelta(long left, long right) {
        String dump = withMetadataSnapshot(List.of("thin_dump", "-m", "--skip-mappings", metadataDevice()));
        long blockBytes = blockBytes(dump);
        String xml = withMetadataSnapshot(List.of(
                "thin_delta",
                "-m",
                "--snap1",
                String.valueOf(left),
                "--snap2",
                String.valueOf(right),
                metadataDevice()));
        ExtentSet.Builder delta = ExtentSet.builder();
        Matcher matcher = DELTA.matcher(xml);
        while (matcher.find()) {
            long begin = Long.parseLong(matcher.group(2));
            delta.add(begin * blockBytes, (begin + Long.parseLong(matcher.group(3))) * blockBytes);
        }
        assertThat(xml).as("thin_delta output").contains("<diff");
        return delta.build();
    }

    private static long blockBytes(String xml) {
        Matcher matcher = BLOCK_SIZE.matcher(xml);
        assertThat(matcher.find())
                .as("data_block_size in " + xml.substring(0, Math.min(200, xml.length())))
                .isTrue();
        return Long.parseLong(matcher.group(1)) * 512;
    }
}
