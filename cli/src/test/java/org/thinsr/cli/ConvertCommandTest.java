package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.thinsr.vhdstream.Compression;
import org.thinsr.vhdstream.VhdInfo;

/** {@code thinsr convert} in-process between raw, tar and chunked files (no outside tools). */
class ConvertCommandTest {
    private static final int MIB = 1 << 20;
    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createDirectories(Paths.get("target", "convert-test"));
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.toList()) {
                Files.delete(file);
            }
        }
    }

    private Path disk(String name, long size, long seed, long... dataOffsets) throws IOException {
        Path file = dir.resolve(name);
        Random random = new Random(seed);
        try (RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            out.setLength(size);
            for (long offset : dataOffsets) {
                byte[] bytes = new byte[100_000];
                random.nextBytes(bytes);
                out.seek(offset);
                out.write(bytes);
            }
        }
        return file;
    }

    private static MainTest.Result convert(String... args) {
        String[] full = new String[args.length + 1];
        full[0] = "convert";
        System.arraycopy(args, 0, full, 1, args.length);
        return MainTest.run(full);
    }

    @Test
    void rawToTarToRawAndRawToChunkedToRawRoundTrip() throws IOException {
        Path input = disk("in.raw", 20L * MIB + 7, 1, 0, 5L * MIB + 3, 20L * MIB - 50_000);
        Path tar = dir.resolve("out.tar");
        Path back = dir.resolve("back.raw");
        assertThat(convert("--to", "tar", input.toString(), tar.toString()).status())
                .isZero();
        MainTest.Result result = convert("--to", "raw", tar.toString(), back.toString());
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(Files.readAllBytes(back)).isEqualTo(Files.readAllBytes(input));

        Path chunked = dir.resolve("out.chunked");
        Path back2 = dir.resolve("back2.raw");
        assertThat(convert("--to", "chunked", input.toString(), chunked.toString())
                        .status())
                .isZero();
        result = convert(
                "--from",
                "chunked",
                "--size",
                Long.toString(Files.size(input)),
                "--to",
                "raw",
                chunked.toString(),
                back2.toString());
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(Files.readAllBytes(back2)).isEqualTo(Files.readAllBytes(input));
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(path -> path.getFileName().toString())).noneMatch(name -> name.startsWith("."));
        }
    }

    @Test
    void compressedOutputsAreDetectedOnInput() throws IOException {
        Path input = disk("c.raw", 3L * MIB, 2, MIB);
        for (String algorithm : new String[] {"gzip", "zstd"}) {
            Path tar = dir.resolve("c.tar." + algorithm);
            assertThat(convert("--to", "tar", "--compress", algorithm, input.toString(), tar.toString())
                            .status())
                    .isZero();
            try (var in = new java.io.BufferedInputStream(Files.newInputStream(tar))) {
                assertThat(Compression.detect(in).label()).isEqualTo(algorithm);
            }
            Path back = dir.resolve("c-" + algorithm + ".raw");
            MainTest.Result result = convert("--to", "raw", tar.toString(), back.toString());
            assertThat(result.status()).as(result.err()).isZero();
            assertThat(Files.readAllBytes(back)).isEqualTo(Files.readAllBytes(input));
        }
    }

    @Test
    void aDamagedTarFailsWithExitStatus3NamingTheOffsetAndLeavesNoOutput() throws IOException {
        Path input = disk("d.raw", 2L * MIB, 3, 0);
        Path tar = dir.resolve("d.tar");
        assertThat(convert("--to", "tar", input.toString(), tar.toString()).status())
                .isZero();
        byte[] bytes = Files.readAllBytes(tar);
        bytes[512 + 1000] ^= 0x40; // chunk 0 data
        Files.write(tar, bytes);
        Path out = dir.resolve("d-out.raw");
        MainTest.Result result = convert("--to", "raw", tar.toString(), out.toString());
        assertThat(result.status()).isEqualTo(3);
        assertThat(result.err())
                .startsWith("thinsr: CORRUPT_IMAGE: offset 1049600: xxhash of vdi/00000000 (as stored): actual ");
        assertThat(out).doesNotExist();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(path -> path.getFileName().toString())).noneMatch(name -> name.startsWith("."));
        }
    }

    @Test
    void aTruncatedChunkedStreamFailsWithExitStatus3() throws IOException {
        Path input = disk("t.raw", 2L * MIB, 4, 1000);
        Path chunked = dir.resolve("t.chunked");
        assertThat(convert("--to", "chunked", input.toString(), chunked.toString())
                        .status())
                .isZero();
        byte[] bytes = Files.readAllBytes(chunked);
        Files.write(chunked, java.util.Arrays.copyOf(bytes, bytes.length - 12));
        MainTest.Result result = convert(
                "--from",
                "chunked",
                "--to",
                "raw",
                chunked.toString(),
                dir.resolve("t-out.raw").toString());
        assertThat(result.status()).isEqualTo(3);
        assertThat(result.err()).contains("chunk header: actual end of input");
    }

    @Test
    void baseMakesATarOfTheChangedChunksOnly() throws IOException {
        Path base = disk("base.raw", 8L * MIB, 5, 0, 3L * MIB);
        Path changed = dir.resolve("changed.raw");
        Files.copy(base, changed);
        try (RandomAccessFile out = new RandomAccessFile(changed.toFile(), "rw")) {
            out.seek(3L * MIB + 10);
            out.write(new byte[] {1, 2, 3});
        }
        Path delta = dir.resolve("delta.tar");
        MainTest.Result result =
                convert("--to", "tar", "--base", base.toString(), changed.toString(), delta.toString());
        assertThat(result.status()).as(result.err()).isZero();
        // chunk 0 and chunk 7 (always present) and chunk 3 (changed): 3 entries of 1 MiB + 1536 bytes
        assertThat(Files.size(delta)).isEqualTo(3L * (MIB + 1536) + 1024);
    }

    @Test
    void usageErrorsExitWith2() throws IOException {
        Path input = disk("u.raw", MIB, 6);
        assertThat(convert("--to", "qcow2", input.toString(), "x").status()).isEqualTo(2);
        assertThat(convert("--to", "raw", "--base", input.toString(), input.toString(), "x")
                        .status())
                .isEqualTo(2);
        MainTest.Result missing = convert("--to", "tar", dir.resolve("nope.raw").toString(), "x");
        assertThat(missing.status()).isEqualTo(4);
        assertThat(missing.err()).startsWith("thinsr: NOT_FOUND: no such file");
    }

    @Test
    void vhdOutputToAFileLeavesOutAllocatedZeroBlocksUnlessNoZeroScanAndComesBack() throws IOException {
        Path input = disk("z.raw", 9L * MIB + 512, 8, 3L * MIB - 50_000, 9L * MIB + 512 - 100_000);
        try (RandomAccessFile out = new RandomAccessFile(input.toFile(), "rw")) {
            out.seek(4L * MIB);
            out.write(new byte[2 * MIB]); // block 2: allocated, all zeros
        }
        Path vhd = dir.resolve("z.vhd");
        Path unscanned = dir.resolve("z-unscanned.vhd");
        Path back = dir.resolve("z-back.raw");
        assertThat(convert("--to", "vhd", input.toString(), vhd.toString()).status())
                .isZero();
        assertThat(convert("--to", "vhd", "--no-zero-scan", input.toString(), unscanned.toString())
                        .status())
                .isZero();
        assertThat(convert("--to", "raw", vhd.toString(), back.toString()).status())
                .isZero();
        assertThat(Files.readAllBytes(back)).isEqualTo(Files.readAllBytes(input));
        try (FileChannel scanned = FileChannel.open(vhd);
                FileChannel all = FileChannel.open(unscanned)) {
            // block 1 holds the first write, 4 the second, 2 the written zeros
            assertThat(VhdInfo.read(scanned).batUsedEntries()).isEqualTo(2);
            assertThat(VhdInfo.read(all).batUsedEntries()).isEqualTo(3);
        }
    }

    @Test
    void rawOutputToAFileIsSparse() throws IOException {
        Path input = disk("s.raw", 64L * MIB, 7, 10L * MIB);
        Path out = dir.resolve("s-out.raw");
        assertThat(convert("--to", "raw", input.toString(), out.toString()).status())
                .isZero();
        try (var source = org.thinsr.vhdstream.RawFileSource.open(out)) {
            assertThat(source.allocationMap().nonZeroExtents().totalLength()).isLessThanOrEqualTo(100_000L + 8192);
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(input));
    }
}
