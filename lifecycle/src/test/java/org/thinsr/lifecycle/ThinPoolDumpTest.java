package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.BitSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ExtentSet;

class ThinPoolDumpTest {
    /** Shaped like thin_dump 0.9.0 output (thin_dump -m of a pool with two thin devices). */
    private static final String DUMP = """
            <superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="0">
              <device dev_id="1" mapped_blocks="4" transaction="0" creation_time="0" snap_time="1">
                <range_mapping origin_begin="0" data_begin="0" length="2" time="0"/>
                <single_mapping origin_block="5" data_block="7" time="0"/>
                <single_mapping origin_block="6" data_block="8" time="1"/>
              </device>
              <device dev_id="2" mapped_blocks="3" transaction="1" creation_time="1" snap_time="1">
                <range_mapping origin_begin="0" data_begin="0" length="2" time="0"/>
                <single_mapping origin_block="5" data_block="9" time="1"/>
              </device>
            </superblock>
            """;

    private static ThinPoolDump parse(InputStream in, Set<Long> wanted) throws IOException {
        return ThinPoolDump.parse(in, wanted, "test");
    }

    private static ThinPoolDump parse(String xml) throws IOException {
        return parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)), Set.of(1L, 2L));
    }

    @Test
    void mappingsOfWantedDevicesCoalesceIntoRuns() throws IOException {
        ThinPoolDump dump = parse(DUMP);
        assertThat(dump.dataBlockSizeBytes()).isEqualTo(65536);
        ThinPoolDump.Mappings one = dump.device(1).orElseThrow();
        assertThat(one.count()).isEqualTo(2); // 5->7 and 6->8 are one run
        assertThat(one.mappedBlocks())
                .isEqualTo(ExtentSet.builder().add(0, 2).add(5, 7).build());
        assertThat(parse(new ByteArrayInputStream(DUMP.getBytes(StandardCharsets.UTF_8)), Set.of(2L))
                        .device(1))
                .isEmpty();
    }

    @Test
    void differingBlocksAreOneSidedOrRemappedBlocks() throws IOException {
        ThinPoolDump dump = parse(DUMP);
        ThinPoolDump.Mappings one = dump.device(1).orElseThrow();
        ThinPoolDump.Mappings two = dump.device(2).orElseThrow();
        assertThat(one.differingBlocks(two)).isEqualTo(ExtentSet.of(5, 7));
        assertThat(two.differingBlocks(one)).isEqualTo(ExtentSet.of(5, 7));
        assertThat(one.differingBlocks(one).isEmpty()).isTrue();
    }

    @Test
    void oneByteAtATimeGivesTheSameResult() throws IOException {
        InputStream trickle = new FilterInputStream(new ByteArrayInputStream(DUMP.getBytes(StandardCharsets.UTF_8))) {
            @Override
            public int read(byte[] buffer, int offset, int length) throws IOException {
                return super.read(buffer, offset, Math.min(1, length));
            }
        };
        ThinPoolDump dump = parse(trickle, Set.of(1L, 2L));
        assertThat(dump.device(2).orElseThrow().mappedBlocks())
                .isEqualTo(parse(DUMP).device(2).orElseThrow().mappedBlocks());
    }

    @Test
    void truncatedGarbageDoctypeAndBadNumbersAreCorruptInput() {
        for (int cut = 1; cut < DUMP.length() - 14; cut += 7) {
            String truncated = DUMP.substring(0, cut);
            assertThatThrownBy(() -> parse(truncated)).as("cut at %d", cut).isInstanceOf(CorruptInputException.class);
        }
        assertThatThrownBy(() -> parse(DUMP + "<junk/>")).isInstanceOf(CorruptInputException.class);
        assertThatThrownBy(() -> parse("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>" + DUMP))
                .isInstanceOf(CorruptInputException.class);
        assertThatThrownBy(() -> parse(DUMP.replace("origin_block=\"5\"", "origin_block=\"-5\"")))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("origin_block")
                .hasMessageContaining("-5");
        assertThatThrownBy(() -> parse(DUMP.replace("origin_block=\"6\"", "origin_block=\"1\"")))
                .isInstanceOf(CorruptInputException.class)
                .hasMessageContaining("ascending");
        assertThatThrownBy(() -> parse(DUMP.replace("data_block_size=\"128\"", "data_block_size=\"0\"")))
                .isInstanceOf(CorruptInputException.class);
    }

    @Test
    void differingBlocksMatchABitSetModelOnRandomMappings() {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        for (int round = 0; round < 500; round++) {
            int universe = 40;
            long[] left = randomMapping(random, universe);
            long[] right = randomMapping(random, universe);
            BitSet expected = new BitSet();
            for (int block = 0; block < universe; block++) {
                if (left[block] != right[block]) {
                    expected.set(block);
                }
            }
            ExtentSet actual = toMappings(left).differingBlocks(toMappings(right));
            for (int block = 0; block < universe; block++) {
                assertThat(actual.contains(block))
                        .as("seed %d round %d block %d", seed, round, block)
                        .isEqualTo(expected.get(block));
            }
        }
    }

    /** data block per virtual block, -1 = unmapped; shared blocks are common between sides. */
    private static long[] randomMapping(Random random, int universe) {
        long[] data = new long[universe];
        for (int block = 0; block < universe; block++) {
            int kind = random.nextInt(3);
            data[block] = kind == 0 ? -1 : kind == 1 ? block : 1000 + random.nextInt(3) + block;
        }
        return data;
    }

    private static ThinPoolDump.Mappings toMappings(long[] data) {
        int count = 0;
        long[] origin = new long[data.length];
        long[] begin = new long[data.length];
        long[] length = new long[data.length];
        for (int block = 0; block < data.length; block++) {
            if (data[block] < 0) {
                continue;
            }
            if (count > 0
                    && origin[count - 1] + length[count - 1] == block
                    && begin[count - 1] + length[count - 1] == data[block]) {
                length[count - 1]++;
            } else {
                origin[count] = block;
                begin[count] = data[block];
                length[count] = 1;
                count++;
            }
        }
        return new ThinPoolDump.Mappings(
                7,
                java.util.Arrays.copyOf(origin, count),
                java.util.Arrays.copyOf(begin, count),
                java.util.Arrays.copyOf(length, count));
    }
}
