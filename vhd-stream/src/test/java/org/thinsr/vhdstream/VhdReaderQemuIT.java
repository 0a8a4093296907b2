package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * VHDs made by {@code qemu-img convert -O vpc} read by our reader, from a file and as a stream,
 * give the same bytes as qemu-img's own conversion of the VHD back to raw.
 */
class VhdReaderQemuIT {
    private static final Path WORK = Path.of("target", "it-vhd-reader");
    private static final long MIB = 1 << 20;
    private static final long SIZE = 33 * MIB + 3 * 512;

    @BeforeAll
    static void source() throws Exception {
        Tools.require("qemu-img", "qemu-utils");
        Tools.require("qemu-io", "qemu-utils");
        Files.createDirectories(WORK);
        Path raw = WORK.resolve("source.raw");
        Files.deleteIfExists(raw);
        Tools.check("qemu-img", "create", "-q", "-f", "raw", raw.toString(), Long.toString(SIZE));
        for (String write : List.of(
                "write -P 1 0 512",
                "write -P 2 1M 64k",
                "write -P 3 5M 3M",
                "write -P 0 12M 1M",
                "write -P 4 " + (SIZE - 1536) + " 1536")) {
            Tools.check("qemu-io", "-f", "raw", "-c", write, raw.toString());
        }
    }

    static List<Arguments> variants() {
        return List.of(
                Arguments.of("dynamic", "subformat=dynamic"),
                Arguments.of("dynamic-force", "subformat=dynamic,force_size=on"),
                Arguments.of("fixed", "subformat=fixed"),
                Arguments.of("fixed-force", "subformat=fixed,force_size=on"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("variants")
    void ourReaderGivesQemuImgsRawBytes(String name, String options) throws Exception {
        Path raw = WORK.resolve("source.raw");
        Path vhd = WORK.resolve(name + ".vhd");
        Path expected = WORK.resolve(name + ".qemu.raw");
        Files.deleteIfExists(vhd);
        Files.deleteIfExists(expected);
        Tools.check("qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", options, raw.toString(), vhd.toString());
        Tools.check("qemu-img", "convert", "-f", "vpc", "-O", "raw", vhd.toString(), expected.toString());
        long size = Files.size(expected);
        if (name.endsWith("force")) {
            assertThat(size).isEqualTo(SIZE);
        }

        Path fromFile = WORK.resolve(name + ".file.raw");
        VhdReader.Result result;
        try (FileChannel in = FileChannel.open(vhd, StandardOpenOption.READ);
                FileSink sink = new FileSink(fromFile, size)) {
            result = VhdReader.readFile(in, sink, false);
        }
        assertThat(result.virtualSize()).isEqualTo(size);
        assertThat(Files.mismatch(fromFile, expected))
                .as("file read vs qemu-img")
                .isEqualTo(-1L);

        Path fromStream = WORK.resolve(name + ".stream.raw");
        try (InputStream in = Files.newInputStream(vhd);
                FileSink sink = new FileSink(fromStream, size)) {
            VhdReader.readStream(in, Files.size(vhd), sink, true);
        }
        assertThat(Files.mismatch(fromStream, expected))
                .as("stream read vs qemu-img")
                .isEqualTo(-1L);
    }
}
