package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ThinDumpParserTest {
    private static final ThinDumpParser PARSER = ThinDumpParser.create();

    /** One coalesced mapping run, for assertions. */
    record Mapping(long origin, long data, long length) {}

    static List<Mapping> mappings(ThinDevice device) {
        List<Mapping> mappings = new ArrayList<>();
        for (int i = 0; i < device.mappingCount(); i++) {
            mappings.add(new Mapping(device.originBegin(i), device.dataBegin(i), device.length(i)));
        }
        return mappings;
    }

    private static ThinMetadata parse(String xml) throws IOException {
        return PARSER.parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)), "test.xml");
    }

    private static final String HEAD =
            "<superblock uuid=\"\" time=\"1\" transaction=\"2\" flags=\"0\" version=\"2\" data_block_size=\"128\""
                    + " nr_data_blocks=\"1000\">\n"
                    + "  <device dev_id=\"1\" mapped_blocks=\"1\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n";
    private static final String TAIL = "  </device>\n</superblock>\n";

    private static String device(String mappings) {
        return HEAD + mappings + TAIL;
    }

    @Test
    void realThinDumpOutputParsesWithEveryAttributeAndCoalescedMappings() throws IOException {
        ThinMetadata metadata = PARSER.parse(Fixtures.path("pool-thin_dump-0.9.xml"));
        ThinSuperblock superblock = metadata.superblock();
        assertThat(superblock)
                .isEqualTo(new ThinSuperblock(
                        "", 1, 2, OptionalLong.of(0), OptionalLong.of(2), 128, 16384, OptionalLong.empty()));
        assertThat(superblock.dataBlockSizeBytes()).isEqualTo(65536);
        assertThat(metadata.devices()).extracting(ThinDevice::devId).containsExactly(1L, 2L);
        ThinDevice one = metadata.device(1);
        assertThat(one.mappedBlocks()).isEqualTo(9);
        assertThat(one.mappedBlockCount()).isEqualTo(9);
        assertThat(one.snapTime()).isEqualTo(1);
        // 0->0, 1->5, 2->30, 3..4->40..41, 5->70, 6->80, 7->90, 9->91: only contiguous-in-both coalesce
        assertThat(mappings(one))
                .containsExactly(
                        new Mapping(0, 0, 1),
                        new Mapping(1, 5, 1),
                        new Mapping(2, 30, 1),
                        new Mapping(3, 40, 2),
                        new Mapping(5, 70, 1),
                        new Mapping(6, 80, 1),
                        new Mapping(7, 90, 1),
                        new Mapping(9, 91, 1));
        assertThat(one.mappedExtents())
                .isEqualTo(ExtentSet.of(new Extent(0, 8 * 65536L), new Extent(9 * 65536L, 10 * 65536L)));
        assertThat(metadata.device(2).creationTime()).isEqualTo(1);
    }

    @Test
    void realThinDumpParsesAlikeWholeSplitAndByteByByte() throws IOException {
        byte[] input = Fixtures.bytes("pool-thin_dump-0.9.xml");
        ThinMetadata whole = StreamVariants.parsesAlike(input, in -> PARSER.parse(in, "x"));
        assertThat(whole.devices()).hasSize(2);
        int complete =
                new String(input, StandardCharsets.UTF_8).lastIndexOf("</superblock>") + "</superblock>".length();
        StreamVariants.truncatedAndTrailingGarbageFail(
                input,
                complete,
                in -> PARSER.parse(in, "x"),
                InvalidXmlException.class,
                "x",
                "<superblock/>",
                "</superblock>",
                "<!DOCTYPE x>",
                "\u0000");
    }

    @Test
    void oneDeviceCanBeExtractedWhileTheOthersAreCheckedButDropped() throws IOException {
        ThinMetadata all = PARSER.parse(Fixtures.path("pool-thin_dump-0.9.xml"));
        ThinMetadata two = PARSER.parse(Fixtures.path("pool-thin_dump-0.9.xml"), 2);
        assertThat(two.devices()).containsExactly(all.device(2));
        assertThat(PARSER.parse(Fixtures.path("pool-thin_dump-0.9.xml"), 7).devices())
                .isEmpty();
        assertThatThrownBy(() -> two.device(1)).isInstanceOfSatisfying(ThinsrException.class, e -> assertThat(e.code())
                .isEqualTo(ErrorCode.THIN_DEVICE_NOT_FOUND));
        // a bad mapping in a skipped device still fails
        String bad = device("<single_mapping origin_block=\"5\" data_block=\"1\" time=\"0\"/>"
                + "<single_mapping origin_block=\"4\" data_block=\"2\" time=\"0\"/>");
        assertThatThrownBy(() -> PARSER.parse(new ByteArrayInputStream(bad.getBytes(StandardCharsets.UTF_8)), "t", 9))
                .isInstanceOf(InvalidXmlException.class)
                .hasMessageContaining("mapping order");
    }

    @Test
    void thinProvisioningTools1xSharedSubtreesExpandIntoEachDevice() throws IOException {
        ThinMetadata metadata = PARSER.parse(Fixtures.path("pool-1x-shared.xml"));
        assertThat(metadata.superblock().flags()).isEmpty();
        assertThat(metadata.superblock().metadataSnap()).hasValue(17);
        assertThat(mappings(metadata.device(1)))
                .containsExactly(new Mapping(0, 7, 1), new Mapping(10, 100, 3), new Mapping(20, 200, 2));
        assertThat(mappings(metadata.device(2))).containsExactly(new Mapping(10, 100, 3), new Mapping(20, 200, 1));
        StreamVariants.parsesAlike(Fixtures.bytes("pool-1x-shared.xml"), in -> PARSER.parse(in, "x"));
    }

    @Test
    void refToAnUnknownDefIsRefused() {
        assertThatThrownBy(() -> parse(device("<ref name=\"9\"/>")))
                .isInstanceOf(InvalidXmlException.class)
                .hasMessageContaining("line 3")
                .hasMessageContaining("<ref>");
    }

    @Test
    void metadataSnapshotDumpsWithZeroDataBlocksAcceptAnyDataBlock() throws IOException {
        String xml = device("<single_mapping origin_block=\"0\" data_block=\"123456789\" time=\"0\"/>\n")
                .replace("nr_data_blocks=\"1000\"", "nr_data_blocks=\"0\"");
        assertThat(mappings(parse(xml).device(1))).containsExactly(new Mapping(0, 123456789, 1));
    }

    @Test
    void consecutiveSingleMappingsContiguousInBothCoalesceWhateverTheirTime() throws IOException {
        ThinDevice device = parse(device("""
                        <single_mapping origin_block="4" data_block="10" time="0"/>
                        <single_mapping origin_block="5" data_block="11" time="3"/>
                        <range_mapping origin_begin="6" data_begin="12" length="4" time="1"/>
                        <single_mapping origin_block="10" data_block="20" time="0"/>
                        <single_mapping origin_block="12" data_block="21" time="0"/>
                        """)).device(1);
        assertThat(mappings(device))
                .containsExactly(new Mapping(4, 10, 6), new Mapping(10, 20, 1), new Mapping(12, 21, 1));
        assertThat(device.mappedBlockCount()).isEqualTo(8);
    }

    @Test
    void xmlDeclarationCommentsAndAnEmptyPoolAreAccepted() throws IOException {
        ThinMetadata metadata = parse("\uFEFF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a -- comment -->"
                + "<superblock uuid=\"a&amp;b&#x41;\" time=\"0\" transaction=\"0\" data_block_size=\"128\""
                + " nr_data_blocks=\"0\"/>\n<!-- after -->\n");
        assertThat(metadata.devices()).isEmpty();
        assertThat(metadata.superblock().uuid()).isEqualTo("a&bA");
    }

    @Test
    void hostileAndMalformedInputFailsWithTheLineWhatActualAndExpected() {
        String mapping = "<single_mapping origin_block=\"0\" data_block=\"1\" time=\"0\"/>";
        String[][] cases = {
            {device("<bogus/>"), "line 3", "unknown element in <device>", "<bogus>"},
            {device(mapping.replace("time=", "colour=\"red\" time=")), "line 3", "unknown attribute", "colour"},
            {device(mapping.replace("\"0\" data", "\"-1\" data")), "line 3", "origin_block", "\"-1\""},
            {device(mapping.replace("\"0\" data", "\"99999999999999999999\" data")), "line 3", "origin_block", "9999"},
            {device(mapping.replace("\"0\" data", "\"+1\" data")), "line 3", "origin_block", "\"+1\""},
            {device(mapping.replace("\"0\" data", "\"1 \" data")), "line 3", "origin_block", "\"1 \""},
            {device(mapping.replace("\"0\" data", "\"&#49;\" data")), "line 3", "origin_block", "&#49;"},
            {device(mapping.replace("\"0\" data", "\"144115188075855871\" data")), "line 3", "end past", "fits"},
            {device(mapping.replace("\"1\" time", "\"1000\" time")), "line 3", "data blocks", "nr_data_blocks 1000"},
            {device(mapping.replace("time=\"0\"", "time=\"4294967296\"")), "line 3", "time", "4294967295"},
            {device(mapping.replace(" time=\"0\"", "")), "line 3", "no attribute time", "attribute time"},
            {device(mapping.replace("time=\"0\"", "time=\"0\" time=\"0\"")), "line 3", "given twice", "once"},
            {
                device("<range_mapping origin_begin=\"0\" data_begin=\"0\" length=\"0\" time=\"0\"/>"),
                "line 3",
                "length",
                "at least 1"
            },
            {device(mapping + "\n" + mapping), "line 4", "mapping order", "at least 1"},
            {
                device("<range_mapping origin_begin=\"0\" data_begin=\"0\" length=\"5\" time=\"0\"/>\n"
                        + mapping.replace("\"0\" data", "\"3\" data")),
                "line 4",
                "mapping order",
                "at least 5"
            },
            {
                HEAD + "</device><device dev_id=\"1\" mapped_blocks=\"0\" transaction=\"0\" creation_time=\"0\""
                        + " snap_time=\"0\">" + TAIL,
                "line 3",
                "dev_id",
                "not seen before"
            },
            {device("text"), "line 3", "text content", "'t'"},
            {device("<![CDATA[x]]>"), "line 3", "markup declaration", "no CDATA"},
            {device("<?php x?>"), "line 3", "processing instruction", "no processing instruction"},
            {HEAD + "</superblock>", "line 3", "end tag", "</device>"},
            {HEAD, "line", "truncated input", "</device>"},
            {"", "line 1", "truncated input", "a root element"},
            {"<device/>", "line 1", "root element", "<superblock>"},
            {HEAD.replace("data_block_size=\"128\"", "data_block_size=\"0\""), "line 1", "data_block_size", "[1, "},
            {device(mapping.replace("<single_mapping ", "<single_mapping\u00e9 ")), "line 3", "start tag", "0xc3"},
            {device(mapping.replace("/>", "></single_mapping>") + "<x/>"), "line 3", "<x>", "<single_mapping>"},
        };
        for (String[] testCase : cases) {
            assertThatThrownBy(() -> parse(testCase[0]))
                    .as(testCase[0])
                    .isInstanceOf(InvalidXmlException.class)
                    .hasMessageContaining(testCase[1])
                    .hasMessageContaining(testCase[2])
                    .hasMessageContaining(testCase[3])
                    .satisfies(e -> assertThat(((InvalidXmlException) e).code()).isEqualTo(ErrorCode.INVALID_XML));
        }
    }

    @Test
    void aDoctypeWithAnExternalEntityIsRefusedBeforeAnythingIsRead(@TempDir Path dir) throws IOException {
        Path secret = dir.resolve("secret.txt");
        Files.writeString(secret, "s3cr3t");
        String xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE superblock [<!ENTITY xxe SYSTEM \"" + secret.toUri()
                + "\">]>\n<superblock uuid=\"&xxe;\" time=\"0\" transaction=\"0\" data_block_size=\"128\""
                + " nr_data_blocks=\"0\"/>";
        assertThatThrownBy(() -> parse(xml))
                .isInstanceOf(InvalidXmlException.class)
                .hasMessageContaining("line 2")
                .hasMessageContaining("DOCTYPE")
                .hasMessageNotContaining("s3cr3t");
        // without the DTD, the entity reference itself is refused too
        String noDtd = "<superblock uuid=\"&xxe;\" time=\"0\" transaction=\"0\" data_block_size=\"128\""
                + " nr_data_blocks=\"0\"/>";
        assertThatThrownBy(() -> parse(noDtd))
                .isInstanceOf(InvalidXmlException.class)
                .hasMessageContaining("entity reference")
                .hasMessageContaining("&xxe;");
    }

    @Test
    void billionLaughsIsRefusedAtTheDoctype() {
        StringBuilder xml = new StringBuilder("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        for (int i = 1; i <= 9; i++) {
            xml.append("<!ENTITY lol").append(i).append(" \"");
            for (int j = 0; j < 10; j++) {
                xml.append("&lol").append(i == 1 ? "" : Integer.toString(i - 1)).append(';');
            }
            xml.append("\">\n");
        }
        xml.append("]>\n<superblock uuid=\"&lol9;\" time=\"0\" transaction=\"0\" data_block_size=\"128\""
                + " nr_data_blocks=\"0\"/>");
        assertThatThrownBy(() -> parse(xml.toString()))
                .isInstanceOf(InvalidXmlException.class)
                .hasMessageContaining("DOCTYPE");
    }

    @Test
    void aTagLongerThanTheBufferIsRefusedWithoutGrowing() {
        String xml = "<superblock uuid=\"" + "a".repeat(XmlScanner.BUFFER_SIZE) + "\"/>";
        assertThatThrownBy(() -> parse(xml))
                .isInstanceOf(InvalidXmlException.class)
                .hasMessageContaining("tag length");
    }

    @Test
    void deepNestingIsRefused() {
        String xml = "<superblock uuid=\"\" time=\"0\" transaction=\"0\" data_block_size=\"128\" nr_data_blocks=\"0\">"
                + "<a>".repeat(20);
        assertThatThrownBy(() -> parse(xml)).isInstanceOf(InvalidXmlException.class);
    }

    @Test
    void storedRunsAreBounded() {
        String xml = device("""
                <single_mapping origin_block="0" data_block="1" time="0"/>
                <single_mapping origin_block="2" data_block="3" time="0"/>
                <single_mapping origin_block="4" data_block="5" time="0"/>
                """);
        InputStream in = new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> PARSER.withMaxRuns(2).parse(in, "t"))
                .isInstanceOf(InvalidXmlException.class)
                .hasMessageContaining("line 5")
                .hasMessageContaining("at most 2");
    }

    @Test
    void manyMappingsSpanChunksAndStayIntact() throws IOException {
        StringBuilder xml = new StringBuilder(HEAD.replace("nr_data_blocks=\"1000\"", "nr_data_blocks=\"0\""));
        int count = 3 * MappingRuns.CHUNK_SIZE + 7;
        for (int i = 0; i < count; i++) {
            xml.append("<single_mapping origin_block=\"")
                    .append(2L * i)
                    .append("\" data_block=\"")
                    .append(3L * i)
                    .append("\" time=\"0\"/>\n");
        }
        xml.append(TAIL);
        ThinDevice device = parse(xml.toString()).device(1);
        assertThat(device.mappingCount()).isEqualTo(count);
        for (int i = 0; i < count; i++) {
            assertThat(device.originBegin(i)).isEqualTo(2L * i);
            assertThat(device.dataBegin(i)).isEqualTo(3L * i);
        }
    }
}
