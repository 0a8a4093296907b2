package org.thinsr.vhdstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.ExtentSet;

/** Raw, tar and chunked streams checked with real tools: stat, GNU tar, qemu-img. */
class RawStreamsIT {
    private static final long MIB = 1 << 20;

    private static Path dir() throws IOException {
        return Files.createDirectories(Paths.get("target", "raw-streams-it"));
    }

    private static Path sparseInput(Path file, long size, ExtentSet data) throws IOException {
        Random random = new Random(42);
        try (RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            out.setLength(0);
            out.setLength(size);
            for (int i = 0; i < data.size(); i++) {
                byte[] bytes = new byte[(int) (data.end(i) - data.start(i))];
                random.nextBytes(bytes);
                out.seek(data.start(i));
                out.write(bytes);
            }
        }
        return file;
    }

    private static long allocatedBytes(Path file) throws Exception {
        String[] fields = RawTools.run(List.of("stat", "-c", "%b %B", file.toString()))
                .strip()
                .split(" ");
        return Long.parseLong(fields[0]) * Long.parseLong(fields[1]);
    }

    @Test
    void sparseOutputsReallyAreSparseAndQemuImgFindsThemIdentical() throws Exception {
        RawTools.require("stat", "coreutils");
        RawTools.require("qemu-img", "qemu-utils");
        ExtentSet data = ExtentSet.of(3 * MIB, 5 * MIB).union(ExtentSet.of(700 * MIB, 701 * MIB));
        Path input = sparseInput(dir().resolve("in.raw"), 1024 * MIB, data);
        Path viaWriter = dir().resolve("writer.raw");
        Path viaTar = dir().resolve("tar.raw");
        Path viaChunked = dir().resolve("chunked.raw");
        Path tar = dir().resolve("disk.tar");
        Path chunked = dir().resolve("disk.chunked");
        try (RawFileSource source = RawFileSource.open(input)) {
            AllocationMap map = source.allocationMap();
            new RawWriter(map, source).writeToFile(viaWriter);
            try (OutputStream out = Files.newOutputStream(tar)) {
                new TarWriter(TarPlan.plan(map, "vdi/", TarChecksum.XXHASH, 0), source).writeTo(out);
            }
            try (OutputStream out = Files.newOutputStream(chunked)) {
                new ChunkedEncoder(map, source).writeTo(out);
            }
        }
        try (RawFileSink sink = RawFileSink.create(viaTar, 1024 * MIB)) {
            TarReader.forVdi(TarReader.Target.ZEROED).read(Files.newInputStream(tar), sink, true);
            sink.flush();
        }
        try (RawFileSink sink = RawFileSink.create(viaChunked, 1024 * MIB)) {
            new ChunkedDecoder().decode(Files.newInputStream(chunked), sink);
            sink.flush();
        }
        for (Path output : List.of(viaWriter, viaTar, viaChunked)) {
            RawTools.run(List.of("qemu-img", "compare", "-f", "raw", "-F", "raw", input.toString(), output.toString()));
            assertThat(Files.size(output)).isEqualTo(1024 * MIB);
            assertThat(allocatedBytes(output))
                    .as("st_blocks of %s", output)
                    .isLessThanOrEqualTo(allocatedBytes(input) + 64 * 1024);
        }
        assertThat(allocatedBytes(viaWriter)).isGreaterThanOrEqualTo(3 * MIB);
    }

    @Test
    void gnuTarListsAndExtractsOurXvaTar() throws Exception {
        RawTools.require("tar", "tar");
        ExtentSet data = ExtentSet.of(MIB + 17, 2 * MIB + 5);
        Path input = sparseInput(dir().resolve("gnu.raw"), 4 * MIB + 1000, data);
        Path tar = dir().resolve("gnu.tar");
        try (RawFileSource source = RawFileSource.open(input);
                OutputStream out = Files.newOutputStream(tar)) {
            new TarWriter(TarPlan.plan(source.allocationMap(), "vdi/", TarChecksum.SHA1, 1_700_000_000L), source)
                    .writeTo(out);
        }
        String listing = RawTools.run(List.of("tar", "-tf", tar.toString()));
        assertThat(listing.lines())
                .containsExactly(
                        "vdi/00000000",
                        "vdi/00000000.checksum",
                        "vdi/00000001",
                        "vdi/00000001.checksum",
                        "vdi/00000002",
                        "vdi/00000002.checksum",
                        "vdi/00000004",
                        "vdi/00000004.checksum");
        Path extracted = Files.createDirectories(dir().resolve("gnu-x"));
        RawTools.run(List.of("tar", "-xf", tar.toString(), "-C", extracted.toString()));
        byte[] disk = Files.readAllBytes(input);
        byte[] chunk1 = Files.readAllBytes(extracted.resolve("vdi/00000001"));
        assertThat(chunk1).isEqualTo(java.util.Arrays.copyOfRange(disk, (int) MIB, (int) (2 * MIB)));
        String sha1 = RawTools.run(
                        List.of("sha1sum", extracted.resolve("vdi/00000001").toString()))
                .split(" ")[0];
        assertThat(Files.readString(extracted.resolve("vdi/00000001.checksum"))).isEqualTo(sha1);
        assertThat(Files.size(extracted.resolve("vdi/00000004"))).isEqualTo(1000);
    }
}
