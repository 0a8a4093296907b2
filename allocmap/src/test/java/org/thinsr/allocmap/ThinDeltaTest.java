package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ThinDeltaTest {
    private static ThinMetadata parseDump(String xml) throws IOException {
        return ThinDumpParser.create().parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)), "dump");
    }

    private static ThinDelta parseDelta(String xml) throws IOException {
        return ThinDeltaParser.parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)), "delta");
    }

    @Test
    void computedDeltaEqualsTheRealThinDeltaOutputTerseAndVerbose() throws IOException {
        ThinMetadata dump = ThinDumpParser.create().parse(Fixtures.path("pool-thin_dump-0.9.xml"));
        ThinDelta computed = ThinDelta.compute(dump.device(1), dump.device(2));
        ThinDelta verbose;
        ThinDelta terse;
        try (InputStream in = Files.newInputStream(Fixtures.path("pool-thin_delta-verbose-1-2.xml"))) {
            verbose = ThinDeltaParser.parse(in, "verbose");
        }
        try (InputStream in = Files.newInputStream(Fixtures.path("pool-thin_delta-1-2.xml"))) {
            terse = ThinDeltaParser.parse(in, "terse");
        }
        assertThat(computed.runs()).isEqualTo(verbose.runs());
        assertThat(computed.terseRuns()).isEqualTo(terse.runs());
        assertThat(verbose.leftDevId()).isEqualTo(1);
        assertThat(verbose.rightDevId()).isEqualTo(2);
        long block = 65536;
        assertThat(computed.changedExtents()).isEqualTo(ExtentSet.of(2 * block, 11 * block));
        assertThat(terse.changedExtents()).isEqualTo(computed.changedExtents());
    }

    @Test
    void writtenXmlIsByteForByteWhatRealThinDeltaPrinted() throws IOException {
        ThinMetadata dump = ThinDumpParser.create().parse(Fixtures.path("pool-thin_dump-0.9.xml"));
        ThinDelta computed = ThinDelta.compute(dump.device(1), dump.device(2));
        StringBuilder terse = new StringBuilder();
        computed.writeXml(dump.superblock(), false, terse);
        assertThat(terse.toString())
                .isEqualTo(new String(Fixtures.bytes("pool-thin_delta-1-2.xml"), StandardCharsets.UTF_8));
        StringBuilder verbose = new StringBuilder();
        computed.writeXml(dump.superblock(), true, verbose);
        assertThat(verbose.toString())
                .isEqualTo(new String(Fixtures.bytes("pool-thin_delta-verbose-1-2.xml"), StandardCharsets.UTF_8));
        ThinDelta parsedTerse = parseDelta(terse.toString());
        assertThatThrownBy(() -> parsedTerse.writeXml(dump.superblock(), true, new StringBuilder()))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void seededRandomPoolsGiveTheBlockByBlockModelsDelta() throws IOException {
        long seed = System.nanoTime();
        System.out.println("ThinDeltaTest seed " + seed);
        Random random = new Random(seed);
        for (int round = 0; round < 40; round++) {
            PoolGenerator pool = PoolGenerator.generate(random, 1 + random.nextInt(300), 4);
            ThinMetadata metadata = parseDump(pool.toXml());
            for (PoolGenerator.Device device : pool.devices) {
                assertThat(ThinDumpParserTest.mappings(metadata.device(device.devId())))
                        .as("seed %s", seed)
                        .isEqualTo(PoolGenerator.runsOf(device.data()));
            }
            for (PoolGenerator.Device left : pool.devices) {
                for (PoolGenerator.Device right : pool.devices) {
                    ThinDelta delta = ThinDelta.compute(metadata.device(left.devId()), metadata.device(right.devId()));
                    List<ThinDelta.Run> expected = PoolGenerator.verboseDeltaOf(left.data(), right.data());
                    assertThat(delta.runs()).as("seed %s", seed).isEqualTo(expected);
                    assertThat(delta.terseRuns()).as("seed %s", seed).isEqualTo(PoolGenerator.terse(expected));
                }
            }
        }
    }

    @Test
    void deltaOfADeviceWithItselfIsAllSameAndChangesNothing() throws IOException {
        ThinMetadata dump = ThinDumpParser.create().parse(Fixtures.path("pool-thin_dump-0.9.xml"));
        ThinDelta delta = ThinDelta.compute(dump.device(2), dump.device(2));
        assertThat(delta.runs()).allMatch(run -> run.kind() == ThinDelta.Kind.SAME);
        assertThat(delta.changedExtents().isEmpty()).isTrue();
    }

    @Test
    void thinDeltaOutputParsesAlikeWholeSplitAndByteByByte() throws IOException {
        for (String name : List.of("pool-thin_delta-1-2.xml", "pool-thin_delta-verbose-1-2.xml")) {
            byte[] input = Fixtures.bytes(name);
            ThinDelta whole = StreamVariants.parsesAlike(input, in -> ThinDeltaParser.parse(in, name));
            assertThat(whole.runCount()).isGreaterThan(0);
            int complete = new String(input, StandardCharsets.UTF_8).lastIndexOf("</superblock>") + 13;
            StreamVariants.truncatedAndTrailingGarbageFail(
                    input,
                    complete,
                    in -> ThinDeltaParser.parse(in, name),
                    InvalidXmlException.class,
                    "x",
                    "<diff/>",
                    "<!DOCTYPE a>");
        }
    }

    private static final String HEAD = """
            <superblock uuid="" time="1" transaction="2" data_block_size="128" nr_data_blocks="100">
            <diff left="1" right="2">
            """;
    private static final String TAIL = "</diff>\n</superblock>\n";

    @Test
    void malformedThinDeltaOutputFailsWithTheLine() {
        String[][] cases = {
            {
                HEAD + "<same begin=\"0\" length=\"2\"/>\n<different begin=\"1\" length=\"1\"/>\n" + TAIL,
                "line 4",
                "run order"
            },
            {HEAD + "<same begin=\"0\" length=\"0\"/>\n" + TAIL, "line 3", "at least 1 block"},
            {HEAD + "<moved begin=\"0\" length=\"1\"/>\n" + TAIL, "line 3", "<moved>"},
            {HEAD + "<same begin=\"-1\" length=\"1\"/>\n" + TAIL, "line 3", "\"-1\""},
            {HEAD + "<same><range begin=\"0\" length=\"1\"/></same>\n" + TAIL, "line 3", "data_begin"},
            {
                HEAD + "<different><range begin=\"0\" data_begin=\"1\" length=\"1\"/></different>\n" + TAIL,
                "line 3",
                "left_data_begin"
            },
            {
                HEAD + "<left_only><range begin=\"0\" data_begin=\"99\" length=\"2\"/></left_only>\n" + TAIL,
                "line 3",
                "below 100"
            },
            {HEAD + "<left_only></left_only>\n" + TAIL, "line 3", "at least one <range>"},
            {
                HEAD + "<same begin=\"0\" length=\"1\"/>\n</diff><diff left=\"1\" right=\"2\"/></superblock>",
                "line 4",
                "</superblock>"
            },
            {HEAD + TAIL.replace("</diff>", ""), "line", "</diff>"},
        };
        for (String[] testCase : cases) {
            assertThatThrownBy(() -> parseDelta(testCase[0]))
                    .as(testCase[0])
                    .isInstanceOf(InvalidXmlException.class)
                    .hasMessageContaining(testCase[1])
                    .hasMessageContaining(testCase[2]);
        }
    }

    @Test
    void devicesOfDifferentBlockSizesCannotBeCompared() throws IOException {
        ThinDevice a = parseDump("<superblock uuid=\"\" time=\"0\" transaction=\"0\" data_block_size=\"128\""
                        + " nr_data_blocks=\"0\"><device dev_id=\"1\" mapped_blocks=\"0\" transaction=\"0\""
                        + " creation_time=\"0\" snap_time=\"0\"/></superblock>")
                .device(1);
        ThinDevice b = parseDump("<superblock uuid=\"\" time=\"0\" transaction=\"0\" data_block_size=\"256\""
                        + " nr_data_blocks=\"0\"><device dev_id=\"1\" mapped_blocks=\"0\" transaction=\"0\""
                        + " creation_time=\"0\" snap_time=\"0\"/></superblock>")
                .device(1);
        assertThatThrownBy(() -> ThinDelta.compute(a, b)).isInstanceOf(IllegalArgumentException.class);
        assertThat(ThinDelta.compute(a, a).runCount()).isZero();
    }
}
