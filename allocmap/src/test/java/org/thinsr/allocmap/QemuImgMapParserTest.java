package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class QemuImgMapParserTest {
    private static AllocationMap parse(String json) throws IOException {
        return QemuImgMapParser.parse(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), "map.json");
    }

    @Test
    void realQemuImgMapOfAnImageWithABackingFileMapsStatesAndDepths() throws IOException {
        byte[] input = Fixtures.bytes("qemu-img-map-top.json");
        AllocationMap map = StreamVariants.parsesAlike(input, in -> QemuImgMapParser.parse(in, "top"));
        long k = 1024;
        assertThat(map.virtualSize()).isEqualTo(6 * k * k);
        // present=false/zero=true and present=true/zero=true/data=false are both holes
        assertThat(map.runs())
                .containsExactly(
                        new AllocationMap.Run(0, 64 * k, State.DATA, Provenance.LOCAL),
                        new AllocationMap.Run(64 * k, 1024 * k, State.HOLE, Provenance.ORIGIN),
                        new AllocationMap.Run(1024 * k, 1088 * k, State.DATA, Provenance.LOCAL),
                        new AllocationMap.Run(1088 * k, 4096 * k, State.HOLE, Provenance.ORIGIN),
                        new AllocationMap.Run(4096 * k, 6144 * k, State.HOLE, Provenance.LOCAL));
        String text = new String(input, StandardCharsets.UTF_8);
        StreamVariants.truncatedAndTrailingGarbageFail(
                input,
                text.lastIndexOf(']') + 1,
                in -> QemuImgMapParser.parse(in, "top"),
                CorruptInputException.class,
                "x",
                "[]",
                ",");
    }

    @Test
    void dataAndZeroIsZeroUnknownIsDataAndAnEmptyArrayIsAnEmptyDisk() throws IOException {
        AllocationMap map = parse("[{\"start\": 0, \"length\": 512, \"depth\": 2, \"present\": true, \"zero\": true,"
                + " \"data\": true, \"offset\": 0, \"compressed\": false}]");
        assertThat(map.runs()).containsExactly(new AllocationMap.Run(0, 512, State.ZERO, Provenance.origin(2)));
        assertThat(parse(" [ ] \n").virtualSize()).isZero();
        // neither data nor known zero: the contents are unknown, so a copy must read them
        assertThat(parse("[{\"start\": 0, \"length\": 512, \"depth\": 0, \"present\": true, \"zero\": false,"
                                + " \"data\": false}]")
                        .runs())
                .containsExactly(new AllocationMap.Run(0, 512, State.DATA, Provenance.LOCAL));
    }

    @Test
    void hostExtentsGiveEachDataRunsLayerAndFileOffset() throws IOException {
        HostExtents host = QemuImgMapParser.hostExtents(
                new ByteArrayInputStream(Fixtures.bytes("qemu-img-map-top.json")), "top", 6 << 20);
        assertThat(host.size()).isEqualTo(2);
        assertThat(new long[] {host.start(0), host.end(0), host.depth(0), host.hostOffset(0)})
                .containsExactly(0, 65536, 0, 393216);
        assertThat(new long[] {host.start(1), host.end(1), host.depth(1), host.hostOffset(1)})
                .containsExactly(1048576, 1114112, 0, 327680);
        assertThat(host.find(0)).isZero();
        assertThat(host.find(65535)).isZero();
        assertThat(host.find(65536)).as("between runs").isEqualTo(-2);
        assertThat(host.find(1048576 + 100)).isEqualTo(1);
        assertThat(host.find(1114112)).isEqualTo(-3);
        assertThat(host.locatedWithin(1)).isTrue();

        // no offset (a compressed cluster), unknown contents, or a layer deeper than the chain given
        HostExtents unlocated = QemuImgMapParser.hostExtents(
                new ByteArrayInputStream(("[{\"start\": 0, \"length\": 512, \"depth\": 1, \"present\": true,"
                                + " \"zero\": false, \"data\": true, \"compressed\": true},"
                                + " {\"start\": 512, \"length\": 512, \"depth\": 0, \"present\": true,"
                                + " \"zero\": false, \"data\": false}]")
                        .getBytes(StandardCharsets.UTF_8)),
                "m",
                1024);
        assertThat(unlocated.size()).isEqualTo(2);
        assertThat(unlocated.hostOffset(0)).isEqualTo(HostExtents.UNKNOWN);
        assertThat(unlocated.locatedWithin(5)).isFalse();
        HostExtents deep = QemuImgMapParser.hostExtents(
                new ByteArrayInputStream(("[{\"start\": 0, \"length\": 512, \"depth\": 3, \"present\": true,"
                                + " \"zero\": false, \"data\": true, \"offset\": 0}]")
                        .getBytes(StandardCharsets.UTF_8)),
                "m",
                512);
        assertThat(deep.locatedWithin(3)).isFalse();
        assertThat(deep.locatedWithin(4)).isTrue();
    }

    @Test
    void expectedSizeIsChecked() {
        assertThatThrownBy(() -> QemuImgMapParser.parse(
                        new ByteArrayInputStream(("[{\"start\": 0, \"length\": 512, \"depth\": 0, \"present\": true,"
                                        + " \"zero\": false, \"data\": true}]")
                                .getBytes(StandardCharsets.UTF_8)),
                        "m",
                        1024))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("actual 512, expected 1024");
    }

    @Test
    void malformedOrHostileMapsFailWithOffsetWhatActualExpected() {
        String good =
                "{\"start\": 0, \"length\": 512, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true}";
        String[][] cases = {
            {"[" + good.replace("\"start\": 0", "\"start\": 1") + "]", "start", "actual 1, expected 0"},
            {"[" + good + "," + good + "]", "start", "actual 0, expected 512"},
            {"[" + good.replace("512", "0") + "]", "length", "actual 0"},
            {"[" + good.replace("512", "-1") + "]", "length", "'-'"},
            {"[" + good.replace("512", "99999999999999999999") + "]", "length", "above 9223372036854775807"},
            {"[" + good.replace("512", "5.5") + "]", "length", "'.'"},
            {"[" + good.replace("}", ", \"offset\": 9223372036854775807}") + "]", "offset", "ends below 2^63"},
            {"[" + good.replace("512", "0512") + "]", "length", "leading zero"},
            {"[" + good.replace("\"depth\": 0", "\"depth\": 65537") + "]", "depth", "65536"},
            {"[" + good.replace("\"data\": true", "\"data\": 1") + "]", "data", "true or false"},
            {"[" + good.replace("\"data\": true", "\"data\": true, \"data\": true") + "]", "data", "given twice"},
            {"[" + good.replace("\"data\": true", "\"colour\": true") + "]", "key", "\"colour\""},
            {"[" + good.replace("\"data\"", "\"d\\u0061ta\"") + "]", "key", "a short plain key"},
            {"[" + good.replace(", \"zero\": false", "") + "]", "zero", "missing"},
            {"[" + good + "", "after an entry", "end of input"},
            {"{}", "syntax", "'['"},
            {"[" + good + "] x", "after the array", "'x'"},
            {"[9223372036854775807]", "syntax", "'{'"},
            {
                "[{\"start\": 9223372036854775807, \"length\": 1, \"depth\": 0, \"present\": true, \"zero\": false,"
                        + " \"data\": true}]",
                "start",
                "expected 0"
            },
        };
        for (String[] testCase : cases) {
            assertThatThrownBy(() -> parse(testCase[0]))
                    .as(testCase[0])
                    .isInstanceOf(CorruptInputException.class)
                    .hasMessageContaining("map.json")
                    .hasMessageContaining(testCase[1])
                    .hasMessageContaining(testCase[2]);
        }
    }
}
