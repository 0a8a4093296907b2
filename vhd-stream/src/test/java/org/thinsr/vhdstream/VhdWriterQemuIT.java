package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.allocmap.ThinsrException;

/**
 * Our VHDs read by the real qemu: {@code qemu-img info} shows the exact size, {@code qemu-img check}
 * finds no problem, {@code qemu-img compare} says the image equals its raw source.
 */
class VhdWriterQemuIT {
    private static final Path WORK = Path.of("target", "it-vhd-writer");
    private static final long MIB = 1 << 20;

    @BeforeAll
    static void tools() throws IOException {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-io", "qemu-utils");
        Files.createDirectories(WORK);
    }

    /** name, size, qemu-io commands writing the source. */
    static List<Arguments> disks() {
        long odd = 7 * MIB + 3 * 512; // neither a multiple of 2 MiB nor of a CHS geometry
        List<Arguments> disks = new ArrayList<>();
        disks.add(Arguments.of("empty", 10 * MIB, List.of()));
        disks.add(Arguments.of("zero-size", 0L, List.of()));
        disks.add(Arguments.of("last-sector", 10 * MIB, List.of("write -P 0x5a " + (10 * MIB - 512) + " 512")));
        disks.add(Arguments.of(
                "odd-size", odd, List.of("write -P 0x11 0 4096", "write -P 0x22 " + (odd - 1024) + " 1024")));
        disks.add(Arguments.of(
                "scattered", 33 * MIB + 512, List.of("write -P 1 1M 64k", "write -P 2 9M 3M", "write -P 3 31M 1536")));
        disks.add(Arguments.of("fully-allocated", 6 * MIB + 512, List.of("write -P 0x77 0 " + (6 * MIB + 512))));
        disks.add(Arguments.of("written-zeros", 8 * MIB, List.of("write -P 0 0 4M", "write -P 9 6M 512")));
        return disks;
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("disks")
    void qemuReadsOurDynamicVhdAsTheSource(String name, long size, List<String> writes) throws Exception {
        checkAgainstQemu(name, size, writes, VhdOptions.dynamic(Instant.now()));
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("disks")
    void qemuReadsOurFixedVhdAsTheSource(String name, long size, List<String> writes) throws Exception {
        if (size == 0) {
            assertThatThrownBy(() ->
                            VhdLayout.plan(AllocationMap.ofData(0, ExtentSet.empty()), VhdOptions.fixed(Instant.now())))
                    .isInstanceOf(ThinsrException.class)
                    .hasMessageContaining("export it as a dynamic VHD");
            return;
        }
        checkAgainstQemu(name + "-fixed", size, writes, VhdOptions.fixed(Instant.now()));
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("disks")
    void qemuReadsOurDifferencingVhdWithItsParentIdentityInTheHeader(String name, long size, List<String> writes)
            throws Exception {
        // qemu's vpc driver opens a differencing disk without its parent (absent blocks read as
        // zeros), so a source with data only where the delta is compares identical.
        VhdParent parent = new VhdParent(
                java.util.UUID.randomUUID(),
                Instant.parse("2026-01-01T00:00:00Z"),
                "parent.vhd",
                List.of(new VhdParent.Locator(VhdParentLocator.PLATFORM_W2RU, ".\\parent.vhd")));
        checkAgainstQemu(name + "-diff", size, writes, VhdOptions.differencing(parent, Instant.now()));
        Path vhd = WORK.resolve(name + "-diff.vhd");
        try (FileChannel in = FileChannel.open(vhd, StandardOpenOption.READ)) {
            assertThat(VhdCheck.firstProblem(in)).isEmpty();
            VhdInfo info = VhdInfo.read(in);
            assertThat(info.footer().diskType()).contains(VhdDiskType.DIFFERENCING);
            assertThat(info.header().parentUniqueId()).isEqualTo(parent.uniqueId());
            assertThat(info.header().parentUnicodeName()).isEqualTo("parent.vhd");
        }
    }

    private static void checkAgainstQemu(String name, long size, List<String> writes, VhdOptions options)
            throws Exception {
        Path raw = WORK.resolve(name + ".raw");
        Path vhd = WORK.resolve(name + ".vhd");
        Files.deleteIfExists(raw);
        Tools.check("qemu-img", "create", "-q", "-f", "raw", raw.toString(), Long.toString(size));
        for (String write : writes) {
            Tools.check("qemu-io", "-f", "raw", "-c", write, raw.toString());
        }
        AllocationMap map = QemuMap.of(raw, size);
        try (FileSource source = new FileSource(raw, map);
                FileChannel out = FileChannel.open(
                        vhd,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE)) {
            VhdLayout layout = VhdLayout.plan(map, options, source);
            new VhdWriter(layout, source).write(out);
            assertThat(out.size()).isEqualTo(layout.length());
        }
        // From a RawFileSource into a file the blocks are copied in the kernel: the same bytes.
        Path copied = WORK.resolve(name + "-copied.vhd");
        try (RawFileSource source = RawFileSource.open(raw);
                FileChannel out = FileChannel.open(
                        copied,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE)) {
            new VhdWriter(VhdLayout.plan(map, options, source), source).write(out);
        }
        assertThat(Files.mismatch(copied, vhd))
                .as("kernel-copied VHD differs at")
                .isEqualTo(-1);

        String info = Tools.check("qemu-img", "info", "-f", "vpc", "--output=json", vhd.toString());
        Matcher virtualSize = Pattern.compile("\"virtual-size\": (\\d+)").matcher(info);
        assertThat(virtualSize.find()).as(info).isTrue();
        assertThat(Long.parseLong(virtualSize.group(1)))
                .as("qemu-img info virtual-size")
                .isEqualTo(size);

        Tools.Result check = Tools.run(List.of("qemu-img", "check", "-f", "vpc", vhd.toString()), 60);
        // qemu's vpc driver has no check: exit 63 "does not support checks"; anything else must be 0.
        assertThat(check.exitCode() == 0
                        || (check.exitCode() == 63 && check.stderr().contains("does not support checks")))
                .as("qemu-img check: %s %s", check.stdout(), check.stderr())
                .isTrue();

        String compare = Tools.check("qemu-img", "compare", "-f", "vpc", "-F", "raw", vhd.toString(), raw.toString());
        assertThat(compare).contains("Images are identical");
    }
}
