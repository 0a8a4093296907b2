package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class BlockChecksumsTest {
    private static BlockSource source(byte[] content) {
        return new BlockSource() {
            @Override
            public long size() {
                return content.length;
            }

            @Override
            public void readFully(long offset, ByteBuffer buffer) {
                buffer.put(content, (int) offset, buffer.remaining());
            }

            @Override
            public void close() {}
        };
    }

    @Test
    void equalContentGivesEqualSumsWhateverTheAllocation() throws Exception {
        byte[] content = new byte[3 * 4096 + 100];
        content[5000] = 1;
        content[content.length - 1] = 2;
        String[] allData = BlockChecksums.compute(
                source(content),
                AllocationMap.uniform(content.length, State.DATA, Provenance.LOCAL),
                4096,
                0,
                content.length);
        String[] sparse = BlockChecksums.compute(
                source(content),
                AllocationMap.ofData(
                        content.length, ExtentSet.of(4096, 8192).union(ExtentSet.of(12288, content.length))),
                4096,
                0,
                content.length);
        assertThat(sparse).isEqualTo(allData);
        assertThat(allData[0]).isEqualTo(BlockChecksums.ZERO);
        assertThat(allData[2]).isEqualTo(BlockChecksums.ZERO);
        byte[] lastBlock = Arrays.copyOfRange(content, 12288, content.length);
        assertThat(allData[3])
                .isEqualTo(HexFormat.of()
                        .formatHex(MessageDigest.getInstance("SHA-256").digest(lastBlock)));
    }

    @Test
    void differentContentGivesADifferentSumForThatBlockOnly() throws Exception {
        byte[] a = new byte[8192];
        byte[] b = new byte[8192];
        a[100] = 1;
        b[100] = 1;
        b[5000] = 3;
        AllocationMap map = AllocationMap.uniform(8192, State.DATA, Provenance.LOCAL);
        String[] sumsA = BlockChecksums.compute(source(a), map, 4096, 0, 8192);
        String[] sumsB = BlockChecksums.compute(source(b), map, 4096, 0, 8192);
        assertThat(sumsA[0]).isEqualTo(sumsB[0]);
        assertThat(sumsA[1]).isNotEqualTo(sumsB[1]);
    }

    @Test
    void blockSizeAndRangeAreChecked() {
        AllocationMap map = AllocationMap.uniform(8192, State.DATA, Provenance.LOCAL);
        assertThatThrownBy(() -> BlockChecksums.compute(source(new byte[8192]), map, 3000, 0, 8192))
                .hasMessageContaining("power of two");
        assertThatThrownBy(() -> BlockChecksums.compute(source(new byte[8192]), map, 4096, 100, 8192))
                .hasMessageContaining("block boundary");
    }
}
