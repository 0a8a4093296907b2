package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.thinsr.allocmap.AllocationMap;
import org.thinsr.allocmap.BlockSource;
import org.thinsr.allocmap.ExtentSet;
import org.thinsr.vhdstream.VhdLayout;
import org.thinsr.vhdstream.VhdOptions;
import org.thinsr.vhdstream.VhdWriter;

class VhdCommandTest {
    private static final long SIZE = 5L << 20;

    @TempDir
    Path dir;

    private Path vhd() throws Exception {
        Path file = dir.resolve("disk.vhd");
        AllocationMap map = AllocationMap.ofData(SIZE, ExtentSet.of(4096, 8192));
        BlockSource source = new BlockSource() {
            @Override
            public long size() {
                return SIZE;
            }

            @Override
            public void readFully(long offset, java.nio.ByteBuffer buffer) {
                while (buffer.hasRemaining()) {
                    buffer.put((byte) 7);
                }
            }

            @Override
            public void close() {}
        };
        VhdOptions options =
                VhdOptions.dynamic(Instant.parse("2026-01-01T00:00:00Z")).withUniqueId(new UUID(1, 2));
        VhdLayout layout = VhdLayout.plan(map, options, source);
        try (OutputStream out = Files.newOutputStream(file)) {
            new VhdWriter(layout, source).write(out);
        }
        return file;
    }

    @Test
    void infoPrintsEveryFieldAsTextAndJson() throws Exception {
        Path file = vhd();
        MainTest.Result text = MainTest.run("vhd", "info", file.toString());
        assertThat(text.status()).isZero();
        assertThat(text.out())
                .contains("current-size:          5242880")
                .contains("creator-application:   qem2")
                .contains("disk-type:             dynamic")
                .contains("footer-checksum-ok:    true")
                .contains("bat-used-entries:      1")
                .contains("time-stamp-utc:        2026-01-01T00:00:00Z");
        MainTest.Result json = MainTest.run("vhd", "info", "--json", file.toString());
        assertThat(json.status()).isZero();
        assertThat(json.out())
                .startsWith("{\"file-length\": ")
                .contains("\"current-size\": 5242880")
                .contains("\"unique-id\": \"00000000-0000-0001-0000-000000000002\"")
                .contains("\"max-table-entries\": 3");
    }

    @Test
    void checkExitsZeroWhenConsistentAndThreeWithTheFirstProblem() throws Exception {
        Path file = vhd();
        MainTest.Result ok = MainTest.run("vhd", "check", file.toString());
        assertThat(ok.status()).isZero();
        assertThat(ok.out()).contains("consistent");

        byte[] bytes = Files.readAllBytes(file);
        bytes[512 + 100] ^= 1; // a header byte: the header checksum no longer matches
        Files.write(file, bytes);
        MainTest.Result bad = MainTest.run("vhd", "check", file.toString());
        assertThat(bad.status()).isEqualTo(3);
        assertThat(bad.err()).startsWith("thinsr: CORRUPT_IMAGE: ").contains("offset 548: dynamic header checksum");
    }

    @Test
    void infoOfAFileThatIsNotAVhdIsExitThree() throws Exception {
        Path file = dir.resolve("junk");
        Files.write(file, new byte[4096]);
        MainTest.Result result = MainTest.run("vhd", "info", file.toString());
        assertThat(result.status()).isEqualTo(3);
        assertThat(result.err()).contains("footer cookie");
    }
}
