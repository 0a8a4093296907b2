package org.thinsr.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code thinsr map thin-dump} and {@code thinsr map delta} in-process, on the checked-in fixtures. */
class MapCommandsTest {
    private static final long BLOCK = 65536;

    static Path fixture(String name) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("testdata/thin").resolve(name);
            if (Files.exists(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("fixture testdata/thin/" + name + " not found");
    }

    @Test
    void thinDumpPrintsTheDevicesMappedBlocksAsLocalDataOneRunPerLine() {
        // device 1 of the real thin_dump maps blocks 0-7 and 9
        MainTest.Result result = MainTest.run(
                "map",
                "thin-dump",
                fixture("pool-thin_dump-0.9.xml").toString(),
                "--device",
                "1",
                "--size",
                Long.toString(12 * BLOCK));
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(result.out().lines())
                .containsExactly(
                        "0 " + 8 * BLOCK + " data local",
                        8 * BLOCK + " " + BLOCK + " hole local",
                        9 * BLOCK + " " + BLOCK + " data local",
                        10 * BLOCK + " " + 2 * BLOCK + " hole local");
    }

    @Test
    void thinDumpWithAnOriginMapShowsTheOriginElsewhereAndJson(@TempDir Path dir) throws IOException {
        Path origin = dir.resolve("origin.json");
        Files.writeString(
                origin,
                "[{ \"start\": 0, \"length\": " + 16 * BLOCK
                        + ", \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true, \"offset\": 0}]\n");
        MainTest.Result result = MainTest.run(
                "map",
                "thin-dump",
                fixture("pool-thin_dump-0.9.xml").toString(),
                "--device",
                "2",
                "--size",
                Long.toString(20 * BLOCK),
                "--origin-map",
                origin.toString(),
                "--origin-size",
                Long.toString(16 * BLOCK),
                "--json");
        assertThat(result.status()).as(result.err()).isZero();
        // device 2 maps 0-5, 8 and 10
        assertThat(result.out().strip())
                .isEqualTo("{\"virtual_size\":" + 20 * BLOCK + ",\"extents\":["
                        + "{\"start\":0,\"length\":" + 6 * BLOCK + ",\"state\":\"data\",\"source\":\"local\"},"
                        + "{\"start\":" + 6 * BLOCK + ",\"length\":" + 2 * BLOCK
                        + ",\"state\":\"data\",\"source\":\"origin\"},"
                        + "{\"start\":" + 8 * BLOCK + ",\"length\":" + BLOCK
                        + ",\"state\":\"data\",\"source\":\"local\"},"
                        + "{\"start\":" + 9 * BLOCK + ",\"length\":" + BLOCK
                        + ",\"state\":\"data\",\"source\":\"origin\"},"
                        + "{\"start\":" + 10 * BLOCK + ",\"length\":" + BLOCK
                        + ",\"state\":\"data\",\"source\":\"local\"},"
                        + "{\"start\":" + 11 * BLOCK + ",\"length\":" + 5 * BLOCK
                        + ",\"state\":\"data\",\"source\":\"origin\"},"
                        + "{\"start\":" + 16 * BLOCK + ",\"length\":" + 4 * BLOCK
                        + ",\"state\":\"hole\",\"source\":\"local\"}]}");
    }

    @Test
    void deltaPrintsChangedBlocksAsLocalAndUnchangedAsOrigin() {
        // from the real thin_delta: same 0-1, different 2-5, left_only 6-7, right_only 8, left_only 9, right_only 10
        MainTest.Result result = MainTest.run(
                "map", "delta", fixture("pool-thin_dump-0.9.xml").toString(), "--snap1", "1", "--snap2", "2");
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(result.out().lines())
                .containsExactly(
                        "0 " + 2 * BLOCK + " data origin",
                        2 * BLOCK + " " + 4 * BLOCK + " data local",
                        6 * BLOCK + " " + 2 * BLOCK + " zero local",
                        8 * BLOCK + " " + BLOCK + " data local",
                        9 * BLOCK + " " + BLOCK + " zero local",
                        10 * BLOCK + " " + BLOCK + " data local");
    }

    @Test
    void hostileXmlExitsThreeWithOneLine(@TempDir Path dir) throws IOException {
        Path xml = dir.resolve("evil.xml");
        Files.writeString(xml, """
                <?xml version="1.0"?>
                <!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
                <superblock uuid="&e;"/>
                """);
        for (String[] args : new String[][] {
            {"map", "thin-dump", xml.toString(), "--device", "1", "--size", "1"},
            {"map", "delta", xml.toString(), "--snap1", "1", "--snap2", "2"}
        }) {
            MainTest.Result result = MainTest.run(args);
            assertThat(result.status()).isEqualTo(3);
            assertThat(result.err())
                    .startsWith("thinsr: INVALID_XML: ")
                    .contains("line 2")
                    .contains("DOCTYPE");
            assertThat(result.err().lines()).hasSize(1);
            assertThat(result.out()).isEmpty();
        }
    }

    @Test
    void aMissingDeviceExitsFour() {
        MainTest.Result result = MainTest.run(
                "map", "thin-dump", fixture("pool-thin_dump-0.9.xml").toString(), "--device", "9", "--size", "1");
        assertThat(result.status()).isEqualTo(4);
        assertThat(result.err()).startsWith("thinsr: THIN_DEVICE_NOT_FOUND: ");
    }
}
