package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code thinsr convert} against the real qemu-img: qcow2 input, and every result checked with {@code qemu-img compare}. */
class ConvertIT {
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createDirectories(Paths.get("target", "convert-it"));
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.toList()) {
                Files.delete(file);
            }
        }
        requireTool("qemu-img", "qemu-utils");
        requireTool("qemu-io", "qemu-utils");
    }

    static void requireTool(String tool, String debianPackage) {
        for (String path : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!path.isEmpty() && Files.isExecutable(Path.of(path, tool))) {
                return;
            }
        }
        throw new AssertionError(tool + " is not installed: apt-get install " + debianPackage);
    }

    static String run(String... command) throws IOException, InterruptedException {
        Path stderr = Files.createTempFile("convert-it", ".err");
        try {
            Process process =
                    new ProcessBuilder(command).redirectError(stderr.toFile()).start();
            process.getOutputStream().close();
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(Duration.ofMinutes(2).toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " timed out");
            }
            String err = Files.readString(stderr);
            if (process.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + process.exitValue() + ": " + err);
            }
            return new String(out, StandardCharsets.UTF_8) + err;
        } finally {
            Files.deleteIfExists(stderr);
        }
    }

    private Path qcow2() throws Exception {
        Path image = dir.resolve("disk.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "100M");
        run(
                "qemu-io",
                "-f",
                "qcow2",
                "-c",
                "write -P 0xab 0 64k",
                "-c",
                "write -P 0x11 5M 3M",
                "-c",
                "write -z 20M 1M",
                "-c",
                "write -P 0x7 99M 1M",
                image.toString());
        return image;
    }

    private static MainTest.Result runConvert(String... args) {
        List<String> full = new ArrayList<>(List.of("convert"));
        full.addAll(List.of(args));
        return MainTest.run(full.toArray(String[]::new));
    }

    private static void convert(String... args) {
        MainTest.Result result = runConvert(args);
        assertThat(result.status())
                .as("thinsr convert %s: %s", List.of(args), result.err())
                .isZero();
    }

    /** Runs a convert that must fail; returns its error output. */
    private static String convertFails(String... args) {
        MainTest.Result result = runConvert(args);
        assertThat(result.status())
                .as("thinsr convert %s should fail", List.of(args))
                .isNotZero();
        return result.err();
    }

    @Test
    void qcow2ToRawTarAndChunkedAndBackCompareEqualWithQemuImg() throws Exception {
        Path image = qcow2();
        Path raw = dir.resolve("disk.raw");
        convert("--from", "qcow2", "--to", "raw", image.toString(), raw.toString());
        run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), raw.toString());

        Path tar = dir.resolve("disk.tar");
        convert("--to", "tar", image.toString(), tar.toString()); // auto: qcow2 by magic
        Path fromTar = dir.resolve("from-tar.raw");
        convert("--to", "raw", tar.toString(), fromTar.toString());
        run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), fromTar.toString());

        Path chunked = dir.resolve("disk.chunked.zst");
        convert("--to", "chunked", "--compress", "zstd", raw.toString(), chunked.toString());
        Path fromChunked = dir.resolve("from-chunked.raw");
        convert("--from", "chunked", "--size", "104857600", "--to", "raw", chunked.toString(), fromChunked.toString());
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", raw.toString(), fromChunked.toString());

        // allocation: what qemu-img map of our raw output reports as data is the qcow2's data
        String map = run("qemu-img", "map", "--output=json", "-f", "raw", fromTar.toString());
        assertThat(map).contains("\"data\": true");
        assertThat(Long.parseLong(run("stat", "-c", "%b", fromTar.toString()).strip()) * 512)
                .isLessThan(8L << 20);
    }

    @Test
    void vhdOutputsAreIdenticalForQemuImgAndVhdInputComesBack() throws Exception {
        Path image = qcow2();
        Path raw = dir.resolve("v.raw");
        convert("--to", "raw", image.toString(), raw.toString());
        Path dynamic = dir.resolve("v.vhd");
        Path fixed = dir.resolve("v-fixed.vhd");
        convert("--to", "vhd", image.toString(), dynamic.toString());
        convert("--to", "vhd-fixed", raw.toString(), fixed.toString());
        run("qemu-img", "compare", "-f", "vpc", "-F", "qcow2", dynamic.toString(), image.toString());
        run("qemu-img", "compare", "-f", "vpc", "-F", "qcow2", fixed.toString(), image.toString());
        assertThat(Files.size(dynamic)).isLessThan(16L << 20); // only the allocated 2 MiB blocks

        Path qemuVhd = dir.resolve("qemu.vhd");
        run(
                "qemu-img",
                "convert",
                "-f",
                "qcow2",
                "-O",
                "vpc",
                "-o",
                "force_size=on",
                image.toString(),
                qemuVhd.toString());
        Path back = dir.resolve("from-qemu-vhd.raw");
        convert("--to", "raw", qemuVhd.toString(), back.toString()); // auto-detected
        run("qemu-img", "compare", "-f", "raw", "-F", "vpc", back.toString(), qemuVhd.toString());

        Path gz = dir.resolve("v.vhd.gz");
        convert("--to", "vhd", "--compress", "gzip", raw.toString(), gz.toString());
        Path fromGz = dir.resolve("from-gz.raw");
        convert("--to", "raw", gz.toString(), fromGz.toString());
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", fromGz.toString(), raw.toString());
    }

    @Test
    void baseMakesADifferencingVhdOfTheChangedBlocksPointingAtItsParent() throws Exception {
        Path image = qcow2();
        Path baseRaw = dir.resolve("base.raw");
        convert("--to", "raw", image.toString(), baseRaw.toString());
        Path baseVhd = dir.resolve("base.vhd");
        convert("--to", "vhd", baseRaw.toString(), baseVhd.toString());
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 40M 4k", image.toString());
        Path delta = dir.resolve("delta.vhd");
        convert("--to", "vhd", "--base", baseVhd.toString(), image.toString(), delta.toString());

        byte[] deltaBytes = Files.readAllBytes(delta);
        byte[] baseBytes = Files.readAllBytes(baseVhd);
        java.nio.ByteBuffer deltaView = java.nio.ByteBuffer.wrap(deltaBytes);
        assertThat(deltaView.getInt(60)).as("disk type: differencing").isEqualTo(4);
        // dynamic header at 512: parent unique id at +40 equals the base footer's unique id at +68
        assertThat(java.util.Arrays.copyOfRange(deltaBytes, 512 + 40, 512 + 56))
                .isEqualTo(java.util.Arrays.copyOfRange(baseBytes, 68, 84));
        // one 2 MiB block (40 MiB is block 20) plus metadata
        assertThat((long) deltaBytes.length).isLessThan(3L << 20);

        // read back with its parent (qemu's vpc driver reads a differencing VHD's own blocks only, so
        // the whole chain is read by us and compared by qemu-img with the qcow2 it came from)
        Path deltaRaw = dir.resolve("delta.raw");
        convert("--to", "raw", delta.toString(), deltaRaw.toString());
        run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", deltaRaw.toString(), image.toString());
    }

    @Test
    void aBaseThatIsItselfADifferencingVhdIsComparedWithItsWholeChain() throws Exception {
        Path image = qcow2();
        Path base = dir.resolve("base.vhd");
        convert("--to", "vhd", image.toString(), base.toString());
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 40M 4k", image.toString());
        Path first = dir.resolve("first.vhd");
        convert("--to", "vhd", "--base", base.toString(), image.toString(), first.toString());
        // zeros written where only the bottom of the chain has data (5M..8M holds 0x11 in base.vhd)
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0 6M 64k", image.toString());
        Path second = dir.resolve("second.vhd");
        convert("--to", "vhd", "--base", first.toString(), image.toString(), second.toString());
        Path back = dir.resolve("second.raw");
        convert("--to", "raw", second.toString(), back.toString());
        run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", back.toString(), image.toString());

        Files.delete(base);
        Path orphan = dir.resolve("orphan.raw");
        String error = convertFails("--to", "raw", second.toString(), orphan.toString());
        assertThat(error).contains("parent of differencing VHD").contains("base.vhd (absent)");
        assertThat(orphan).doesNotExist();
    }

    @Test
    void aChainThatLoopsOrALocatorOutOfBoundsFailsNamingIt() throws Exception {
        Path image = qcow2();
        Path base = dir.resolve("base.vhd");
        convert("--to", "vhd", image.toString(), base.toString());
        Path delta = dir.resolve("delta.vhd");
        convert("--to", "vhd", "--base", base.toString(), image.toString(), delta.toString());
        byte[] bytes = Files.readAllBytes(delta);

        // its own unique id as the parent's, and base.vhd's name pointing at it: a loop
        byte[] loop = bytes.clone();
        System.arraycopy(loop, 68, loop, 512 + 40, 16);
        Files.delete(base);
        Files.write(base, loop);
        String error = convertFails(
                "--to", "raw", base.toString(), dir.resolve("loop.raw").toString());
        assertThat(error).contains("loops");

        // the first locator's length far beyond the file
        byte[] far = bytes.clone();
        java.nio.ByteBuffer.wrap(far).putInt(512 + 576 + 8, 1 << 30);
        Path bad = dir.resolve("far.vhd");
        Files.write(bad, far);
        error = convertFails(
                "--to", "raw", bad.toString(), dir.resolve("far.raw").toString());
        assertThat(error).contains("parent locator W2ru").contains("length").contains("at most 4096");
    }

    @Test
    void theShadedJarConvertsWithNativeAccessAndNoWarnings() throws Exception {
        String jar = System.getProperty("thinsr.jar");
        assertThat(jar).as("system property thinsr.jar").isNotNull();
        Path image = qcow2();
        Path raw = dir.resolve("jar.raw");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        String output = run(java.toString(), "-jar", jar, "convert", "--to", "raw", image.toString(), raw.toString());
        assertThat(output).doesNotContain("WARNING");
        run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), raw.toString());
    }
}
