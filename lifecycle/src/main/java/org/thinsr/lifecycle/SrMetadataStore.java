package org.thinsr.lifecycle;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.CRC32C;
import org.thinsr.allocmap.ErrorCode;
import org.thinsr.allocmap.ThinsrException;

/**
 * Crash-safe storage of one {@link SrMetadata} in a {@link MetadataArea}: two slots, each a header
 * and a JSON payload; a write goes to the slot not holding the current state, payload first, and
 * becomes current only when its header (with a higher generation and both checksums) is durable.
 * A process killed at any point leaves either the previous or the new state readable, never a mix.
 *
 * <pre>
 * area:  [ slot 0 : size/2 bytes ][ slot 1 : size/2 bytes ]     generation g lives in slot g % 2
 *
 * slot:  offset  size  field (little-endian)
 *        0       8     magic "THINSRMD"
 *        8       4     layout version = 1
 *        12      4     reserved, 0
 *        16      8     generation, &gt;= 1
 *        24      4     payload length in bytes, &lt;= slot size - 4096
 *        28      4     CRC-32C of the payload
 *        32      4     CRC-32C of bytes [0, 32) of this header
 *        36      4060  zero
 *        4096    n     payload: UTF-8 JSON of SrMetadata
 * </pre>
 *
 * <p>Write order: payload, sync, header, sync. A slot whose header is all zeros is empty; a slot
 * whose magic, version, header checksum, length or payload checksum is wrong is torn and ignored.
 * Reading takes the valid slot with the higher generation. Not thread-safe: callers hold the SR
 * lock.
 */
public final class SrMetadataStore {
    static final long MAGIC = 0x444d52534e494854L; // "THINSRMD" read little-endian
    static final int LAYOUT_VERSION = 1;
    static final int HEADER_SIZE = 4096;
    static final int HEADER_CHECKED = 32;
    private static final int MAX_PAYLOAD = 64 << 20;

    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    static {
        JSON.getFactory()
                .setStreamReadConstraints(StreamReadConstraints.builder()
                        .maxStringLength(1 << 20)
                        .maxNestingDepth(16)
                        .build());
    }

    private final MetadataArea area;
    private final long slotSize;

    public SrMetadataStore(MetadataArea area) {
        this.area = area;
        this.slotSize = area.sizeBytes() / 2;
    }

    /** What {@link #read()} found: the metadata and its generation. */
    public record Loaded(SrMetadata metadata, long generation) {}

    /**
     * The current state, or empty for a never-written area.
     *
     * @throws ThinsrException {@code CORRUPT_INPUT} when no slot is valid but some slot is not
     *     empty, naming each slot's defect
     */
    public Optional<Loaded> read() throws IOException {
        SlotRead first = readSlot(0);
        SlotRead second = readSlot(1);
        SlotRead best = null;
        for (SlotRead slot : new SlotRead[] {first, second}) {
            if (slot.loaded != null && (best == null || slot.loaded.generation > best.loaded.generation)) {
                best = slot;
            }
        }
        if (best != null) {
            return Optional.of(best.loaded);
        }
        if (first.empty && second.empty) {
            return Optional.empty();
        }
        throw new ThinsrException(
                ErrorCode.CORRUPT_INPUT,
                "SR metadata has no valid slot: slot 0: " + first.defect + "; slot 1: " + second.defect);
    }

    /**
     * Makes {@code metadata} the current state with generation {@code previousGeneration + 1}
     * (0 for a never-written area) and returns that generation.
     *
     * @throws ThinsrException {@code NO_SPACE} when the JSON does not fit a slot
     */
    public long write(SrMetadata metadata, long previousGeneration) throws IOException {
        long generation = previousGeneration + 1;
        byte[] payload;
        try {
            payload = JSON.writeValueAsBytes(metadata);
        } catch (JsonProcessingException e) {
            throw new IOException("cannot encode SR metadata: " + e.getOriginalMessage(), e);
        }
        long capacity = slotSize - HEADER_SIZE;
        if (payload.length > capacity) {
            throw new ThinsrException(
                    ErrorCode.NO_SPACE,
                    "SR metadata of " + payload.length + " bytes does not fit its slot of " + capacity + " bytes");
        }
        long slotOffset = (generation % 2) * slotSize;
        area.write(slotOffset + HEADER_SIZE, ByteBuffer.wrap(payload));
        area.sync();
        CrashPoints.reach(CrashPoints.METADATA_AFTER_PAYLOAD);
        ByteBuffer header = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(0, MAGIC);
        header.putInt(8, LAYOUT_VERSION);
        header.putLong(16, generation);
        header.putInt(24, payload.length);
        header.putInt(28, crc(payload, 0, payload.length));
        header.putInt(32, crc(header.array(), 0, HEADER_CHECKED));
        area.write(slotOffset, header);
        CrashPoints.reach(CrashPoints.METADATA_AFTER_HEADER);
        area.sync();
        return generation;
    }

    private static final class SlotRead {
        Loaded loaded;
        boolean empty;
        String defect = "valid";
    }

    private SlotRead readSlot(int slot) throws IOException {
        SlotRead result = new SlotRead();
        long slotOffset = slot * slotSize;
        ByteBuffer header = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        area.readFully(slotOffset, header);
        byte[] bytes = header.array();
        boolean allZero = true;
        for (int i = 0; i < 40; i++) {
            allZero &= bytes[i] == 0;
        }
        if (allZero) {
            result.empty = true;
            result.defect = "empty";
            return result;
        }
        long magic = header.getLong(0);
        int version = header.getInt(8);
        long generation = header.getLong(16);
        int length = header.getInt(24);
        int payloadCrc = header.getInt(28);
        int headerCrc = header.getInt(32);
        int actualHeaderCrc = crc(bytes, 0, HEADER_CHECKED);
        String where = "at offset " + slotOffset;
        if (magic != MAGIC) {
            result.defect =
                    String.format(Locale.ROOT, "magic %s: actual 0x%016x != expected 0x%016x", where, magic, MAGIC);
        } else if (headerCrc != actualHeaderCrc) {
            result.defect = String.format(
                    Locale.ROOT,
                    "header checksum %s: actual 0x%08x != expected 0x%08x",
                    where,
                    actualHeaderCrc,
                    headerCrc);
        } else if (version != LAYOUT_VERSION) {
            result.defect = "layout version " + where + ": actual " + version + " != expected " + LAYOUT_VERSION;
        } else if (length < 0 || length > Math.min(slotSize - HEADER_SIZE, MAX_PAYLOAD) || generation < 1) {
            result.defect = "payload length " + where + ": actual " + Integer.toUnsignedString(length)
                    + ", expected at most " + (slotSize - HEADER_SIZE) + " (generation " + generation + ")";
        } else {
            ByteBuffer payload = ByteBuffer.allocate(length);
            area.readFully(slotOffset + HEADER_SIZE, payload);
            int actualPayloadCrc = crc(payload.array(), 0, length);
            if (actualPayloadCrc != payloadCrc) {
                result.defect = String.format(
                        Locale.ROOT,
                        "payload checksum %s: actual 0x%08x != expected 0x%08x",
                        where,
                        actualPayloadCrc,
                        payloadCrc);
            } else {
                try {
                    SrMetadata metadata = JSON.readValue(payload.array(), SrMetadata.class);
                    result.loaded = new Loaded(metadata, generation);
                } catch (IOException | IllegalArgumentException e) {
                    result.defect = "payload JSON " + where + ": "
                            + String.valueOf(e.getMessage()).lines().findFirst().orElse("");
                }
            }
        }
        return result;
    }

    private static int crc(byte[] bytes, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }
}
