package org.thinsr.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

class SrMetadataStoreTest {
    private static final int SIZE = 1 << 20;
    private static final long SLOT = SIZE / 2;
    private static final SrInfo SR = new SrInfo("file", "/sr", Map.of("path", "/sr"));

    private static SrMetadata metadata(int vdiCount) {
        SrMetadata metadata = SrMetadata.empty("11111111-2222-3333-4444-555555555555", "sr", "desc", SR);
        for (int i = 0; i < vdiCount; i++) {
            metadata = metadata.withVdi(new VdiRecord(
                    "vdi-" + i,
                    VdiKind.DISK,
                    "label " + i,
                    "",
                    "vol" + i,
                    null,
                    null,
                    null,
                    1L << 20,
                    Provisioning.THIN,
                    false,
                    Map.of("vdi-type", "user")));
        }
        return metadata;
    }

    @Test
    void freshAreaReadsAsEmpty() throws Exception {
        assertThat(new SrMetadataStore(new MemoryMetadataArea(SIZE)).read()).isEmpty();
    }

    @Test
    void writtenStateReadsBackWithItsGeneration() throws Exception {
        MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
        SrMetadataStore store = new SrMetadataStore(area);
        long first = store.write(metadata(1), 0);
        long second = store.write(metadata(2).withPending("vol9", "vdi-create"), first);
        assertThat(first).isEqualTo(1);
        assertThat(second).isEqualTo(2);
        Optional<SrMetadataStore.Loaded> loaded = new SrMetadataStore(area).read();
        assertThat(loaded).isPresent();
        assertThat(loaded.get().generation()).isEqualTo(2);
        assertThat(loaded.get().metadata()).isEqualTo(metadata(2).withPending("vol9", "vdi-create"));
    }

    @Test
    void generationsAlternateBetweenTheTwoSlots() throws Exception {
        MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
        SrMetadataStore store = new SrMetadataStore(area);
        store.write(metadata(1), 0);
        store.write(metadata(2), 1);
        ByteBuffer slot0 = ByteBuffer.wrap(area.written, 0, 64).slice().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer slot1 = ByteBuffer.wrap(area.written, (int) SLOT, 64).slice().order(ByteOrder.LITTLE_ENDIAN);
        assertThat(slot0.getLong(16)).isEqualTo(2);
        assertThat(slot1.getLong(16)).isEqualTo(1);
    }

    /** Every prefix of the write sequence of a new state, as a kill would leave it, reads old or new. */
    @Test
    void killAfterAnyWriteLeavesTheOldOrTheNewState() throws Exception {
        SrMetadata old = metadata(3);
        SrMetadata next = metadata(4);
        MemoryMetadataArea base = new MemoryMetadataArea(SIZE);
        long generation = new SrMetadataStore(base).write(old, new SrMetadataStore(base).write(metadata(2), 0));
        byte[] before = base.snapshot();
        MemoryMetadataArea full = new MemoryMetadataArea(SIZE);
        System.arraycopy(before, 0, full.written, 0, SIZE);
        new SrMetadataStore(full).write(next, generation);
        byte[] after = full.snapshot();
        // the new state differs from the old only in one slot; tear it at every 512-byte boundary
        int firstDiff = -1;
        int lastDiff = -1;
        for (int i = 0; i < SIZE; i++) {
            if (before[i] != after[i]) {
                firstDiff = firstDiff < 0 ? i : firstDiff;
                lastDiff = i;
            }
        }
        assertThat(firstDiff).isGreaterThanOrEqualTo(0);
        for (int cut = firstDiff; cut <= lastDiff + 1; cut += 512) {
            for (boolean headerFirst : new boolean[] {false, true}) {
                MemoryMetadataArea torn = new MemoryMetadataArea(SIZE);
                System.arraycopy(before, 0, torn.written, 0, SIZE);
                // payload region gets the new bytes up to the cut; the header only if past the cut
                int headerStart = (int) (firstDiff - firstDiff % SLOT);
                for (int i = firstDiff; i <= lastDiff; i++) {
                    boolean inHeader = i < headerStart + SrMetadataStore.HEADER_SIZE;
                    boolean copy = headerFirst ? i < cut : (inHeader ? cut > lastDiff : i < cut);
                    if (copy) {
                        torn.written[i] = after[i];
                    }
                }
                SrMetadata read = new SrMetadataStore(torn).read().orElseThrow().metadata();
                assertThat(read)
                        .as("cut at %s, header first %s", cut, headerFirst)
                        .isIn(old, next);
            }
        }
    }

    @Test
    void powerCutBeforeTheLastSyncKeepsTheOldState() throws Exception {
        MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
        SrMetadataStore store = new SrMetadataStore(area);
        long generation = store.write(metadata(1), 0);
        // write the next state, then lose everything after the payload sync by rewinding the header
        store.write(metadata(2), generation);
        MemoryMetadataArea cut = area.afterPowerCut();
        assertThat(new SrMetadataStore(cut).read().orElseThrow().metadata()).isEqualTo(metadata(2));
        // and with the header write lost (it is synced last): the old state
        MemoryMetadataArea lost = new MemoryMetadataArea(SIZE);
        System.arraycopy(area.written, 0, lost.written, 0, SIZE);
        System.arraycopy(new byte[SrMetadataStore.HEADER_SIZE], 0, lost.written, 0, SrMetadataStore.HEADER_SIZE);
        assertThat(new SrMetadataStore(lost).read().orElseThrow().metadata()).isEqualTo(metadata(1));
    }

    @Test
    void flippedPayloadByteFallsBackToTheOtherSlot() throws Exception {
        MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
        SrMetadataStore store = new SrMetadataStore(area);
        store.write(metadata(2), store.write(metadata(1), 0));
        area.written[SrMetadataStore.HEADER_SIZE + 10] ^= 1; // slot 0 holds generation 2
        assertThat(new SrMetadataStore(area).read().orElseThrow().metadata()).isEqualTo(metadata(1));
    }

    @Test
    void bothSlotsCorruptIsCorruptInputNamingEachDefect() throws Exception {
        MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
        SrMetadataStore store = new SrMetadataStore(area);
        store.write(metadata(2), store.write(metadata(1), 0));
        area.written[3] ^= 1;
        area.written[(int) SLOT + 20] ^= 1;
        assertThatThrownBy(() -> new SrMetadataStore(area).read()).isInstanceOfSatisfying(ThinsrException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_INPUT);
            assertThat(e.getMessage())
                    .contains("slot 0: magic at offset 0: actual")
                    .contains("slot 1: header checksum at offset " + SLOT + ": actual");
        });
    }

    @Test
    void hostileHeaderLengthIsRejectedBeforeAllocating() throws Exception {
        MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
        new SrMetadataStore(area).write(metadata(1), 0);
        ByteBuffer header =
                ByteBuffer.wrap(area.written, (int) SLOT, 64).slice().order(ByteOrder.LITTLE_ENDIAN);
        header.putInt(24, Integer.MAX_VALUE);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(area.written, (int) SLOT, 32);
        header.putInt(32, (int) crc.getValue());
        assertThatThrownBy(() -> new SrMetadataStore(area).read())
                .isInstanceOfSatisfying(ThinsrException.class, e -> assertThat(e.getMessage())
                        .contains("payload length at offset " + SLOT + ": actual 2147483647"));
    }

    @Test
    void randomGarbageNeverCrashesTheReader() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        for (int round = 0; round < 50; round++) {
            MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
            new SrMetadataStore(area).write(metadata(1), 0);
            for (int flips = 0; flips < 20; flips++) {
                area.written[random.nextInt(SIZE)] = (byte) random.nextInt();
                area.written[random.nextInt(64)] = (byte) random.nextInt();
            }
            try {
                new SrMetadataStore(area).read();
            } catch (ThinsrException e) {
                assertThat(e.code()).as("seed %s", seed).isEqualTo(ErrorCode.CORRUPT_INPUT);
            }
        }
    }

    @Test
    void metadataTooLargeForASlotIsNoSpace() {
        MemoryMetadataArea area = new MemoryMetadataArea(SIZE);
        assertThatThrownBy(() -> new SrMetadataStore(area).write(metadata(3000), 0))
                .isInstanceOfSatisfying(
                        ThinsrException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NO_SPACE));
        assertThat(area.writes).isZero();
    }
}
