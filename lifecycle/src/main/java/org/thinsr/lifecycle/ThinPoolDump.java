package org.thinsr.lifecycle;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;
import org.thinsr.allocmap.CorruptInputException;
import org.thinsr.allocmap.ExtentSet;

/**
 * The block mappings of selected thin devices from {@code thin_dump} XML (thin-provisioning-tools
 * 0.9.0, {@code thin_dump -m <pool>_tmeta}):
 *
 * <pre>
 * &lt;superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128" nr_data_blocks="0"&gt;
 *   &lt;device dev_id="1" mapped_blocks="3" transaction="0" creation_time="0" snap_time="1"&gt;
 *     &lt;range_mapping origin_begin="0" data_begin="0" length="2" time="0"/&gt;
 *     &lt;single_mapping origin_block="5" data_block="7" time="1"/&gt;
 *   &lt;/device&gt;
 * &lt;/superblock&gt;
 * </pre>
 *
 * {@code data_block_size} is in 512-byte sectors; origin and data blocks count in those blocks.
 *
 * <p>Minimal, package-private stand-in: allocmap's {@code ThinDumpParser} (branch {@code allocmap})
 * replaces it once that lands on main. Hostile input is refused: DTDs and external entities are
 * off, numbers are checked, mappings of a device must ascend without overlap, and at most {@value
 * #MAX_MAPPINGS} mapping elements are kept per device.
 */
final class ThinPoolDump {
    static final int MAX_MAPPINGS = 1 << 24;
    private static final long MAX_BLOCK = 1L << 48;

    private final long dataBlockSizeSectors;
    private final Map<Long, Mappings> devices;

    private ThinPoolDump(long dataBlockSizeSectors, Map<Long, Mappings> devices) {
        this.dataBlockSizeSectors = dataBlockSizeSectors;
        this.devices = Map.copyOf(devices);
    }

    long dataBlockSizeBytes() {
        return dataBlockSizeSectors * 512;
    }

    /** The mappings of {@code deviceId}, when it was in the dump and wanted. */
    Optional<Mappings> device(long deviceId) {
        return Optional.ofNullable(devices.get(deviceId));
    }

    /**
     * One thin device's mappings as runs of consecutive blocks, ascending by origin block: virtual
     * blocks {@code [originBegin[i], originBegin[i] + length[i])} live in data blocks starting at
     * {@code dataBegin[i]}.
     */
    static final class Mappings {
        private final long deviceId;
        private final long[] originBegin;
        private final long[] dataBegin;
        private final long[] length;

        Mappings(long deviceId, long[] originBegin, long[] dataBegin, long[] length) {
            if (originBegin.length != dataBegin.length || originBegin.length != length.length) {
                throw new IllegalArgumentException("mapping arrays differ in length");
            }
            this.deviceId = deviceId;
            this.originBegin = originBegin.clone();
            this.dataBegin = dataBegin.clone();
            this.length = length.clone();
        }

        long deviceId() {
            return deviceId;
        }

        long originBegin(int index) {
            return originBegin[index];
        }

        long dataBegin(int index) {
            return dataBegin[index];
        }

        long length(int index) {
            return length[index];
        }

        int count() {
            return originBegin.length;
        }

        /** The mapped virtual blocks, in blocks. */
        ExtentSet mappedBlocks() {
            ExtentSet.Builder builder = ExtentSet.builder();
            for (int i = 0; i < originBegin.length; i++) {
                builder.add(originBegin[i], originBegin[i] + length[i]);
            }
            return builder.build();
        }

        /**
         * The virtual blocks where this device and {@code other} differ: mapped on one side only, or
         * mapped to different data blocks (what {@code thin_delta} reports as left-only, right-only
         * and different).
         */
        ExtentSet differingBlocks(Mappings other) {
            long[] points = new long[2 * (count() + other.count())];
            int n = 0;
            for (int i = 0; i < count(); i++) {
                points[n++] = originBegin[i];
                points[n++] = originBegin[i] + length[i];
            }
            for (int i = 0; i < other.count(); i++) {
                points[n++] = other.originBegin[i];
                points[n++] = other.originBegin[i] + other.length[i];
            }
            Arrays.sort(points, 0, n);
            ExtentSet.Builder builder = ExtentSet.builder();
            int left = 0;
            int right = 0;
            for (int p = 0; p + 1 < n; p++) {
                long start = points[p];
                long end = points[p + 1];
                if (start == end) {
                    continue;
                }
                while (left < count() && originBegin[left] + length[left] <= start) {
                    left++;
                }
                while (right < other.count() && other.originBegin[right] + other.length[right] <= start) {
                    right++;
                }
                boolean leftMapped = left < count() && originBegin[left] <= start;
                boolean rightMapped = right < other.count() && other.originBegin[right] <= start;
                boolean differs;
                if (leftMapped && rightMapped) {
                    long leftData = dataBegin[left] + (start - originBegin[left]);
                    long rightData = other.dataBegin[right] + (start - other.originBegin[right]);
                    differs = leftData != rightData;
                } else {
                    differs = leftMapped || rightMapped;
                }
                if (differs) {
                    builder.add(start, end);
                }
            }
            return builder.build();
        }
    }

    /**
     * Reads a whole dump, keeping the devices in {@code wantedDevices} only.
     *
     * @param where names the input in error messages
     * @throws CorruptInputException for malformed XML or values out of range
     */
    static ThinPoolDump parse(InputStream xml, Set<Long> wantedDevices, String where) throws IOException {
        XMLInputFactory factory = XMLInputFactory.newFactory();
        factory.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        factory.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        factory.setProperty(XMLInputFactory.IS_REPLACING_ENTITY_REFERENCES, false);
        try {
            XMLStreamReader reader = factory.createXMLStreamReader(xml);
            try {
                return read(reader, wantedDevices, where);
            } finally {
                reader.close();
            }
        } catch (XMLStreamException e) {
            throw new CorruptInputException(where + ": malformed XML: " + e.getMessage(), e);
        }
    }

    private static ThinPoolDump read(XMLStreamReader reader, Set<Long> wanted, String where)
            throws XMLStreamException, CorruptInputException {
        long blockSizeSectors = -1;
        Map<Long, Mappings> devices = new HashMap<>();
        Builder current = null;
        boolean skipping = false;
        while (reader.hasNext()) {
            int event = reader.next();
            if (event == XMLStreamConstants.DTD || event == XMLStreamConstants.ENTITY_REFERENCE) {
                throw CorruptInputException.of(at(reader, where), "XML", "a DTD or entity", "plain elements");
            }
            if (event == XMLStreamConstants.END_ELEMENT && reader.getLocalName().equals("device")) {
                if (current != null) {
                    devices.put(current.deviceId, current.build());
                }
                current = null;
                skipping = false;
                continue;
            }
            if (event != XMLStreamConstants.START_ELEMENT) {
                continue;
            }
            switch (reader.getLocalName()) {
                case "superblock" -> {
                    blockSizeSectors = number(reader, "data_block_size", where);
                    if (blockSizeSectors < 1 || blockSizeSectors > (1 << 21)) {
                        throw CorruptInputException.of(
                                at(reader, where), "data_block_size", blockSizeSectors, "1 to 2^21 sectors");
                    }
                }
                case "device" -> {
                    long id = number(reader, "dev_id", where);
                    if (wanted.contains(id)) {
                        current = new Builder(id);
                    } else {
                        skipping = true;
                    }
                }
                case "single_mapping" -> {
                    if (current != null) {
                        current.add(
                                number(reader, "origin_block", where),
                                number(reader, "data_block", where),
                                1,
                                reader,
                                where);
                    } else if (!skipping) {
                        throw CorruptInputException.of(
                                at(reader, where), "element", "mapping outside a device", "<device>");
                    }
                }
                case "range_mapping" -> {
                    if (current != null) {
                        current.add(
                                number(reader, "origin_begin", where),
                                number(reader, "data_begin", where),
                                number(reader, "length", where),
                                reader,
                                where);
                    } else if (!skipping) {
                        throw CorruptInputException.of(
                                at(reader, where), "element", "mapping outside a device", "<device>");
                    }
                }
                default -> {
                    // other elements (def, ref in older dumps) carry nothing the backend needs
                }
            }
        }
        if (blockSizeSectors < 0) {
            throw CorruptInputException.of(where, "superblock", "none", "a <superblock> element");
        }
        return new ThinPoolDump(blockSizeSectors, devices);
    }

    private static long number(XMLStreamReader reader, String attribute, String where) throws CorruptInputException {
        String value = reader.getAttributeValue(null, attribute);
        if (value == null) {
            throw CorruptInputException.of(
                    at(reader, where),
                    "attribute " + attribute + " of <" + reader.getLocalName() + ">",
                    "missing",
                    "a number");
        }
        try {
            long parsed = Long.parseLong(value);
            if (parsed < 0 || parsed >= MAX_BLOCK) {
                throw new NumberFormatException();
            }
            return parsed;
        } catch (NumberFormatException e) {
            String shown = value.length() > 40 ? value.substring(0, 40) + "..." : value;
            throw CorruptInputException.of(at(reader, where), "attribute " + attribute, shown, "a number in [0, 2^48)");
        }
    }

    private static String at(XMLStreamReader reader, String where) {
        return where + " line " + reader.getLocation().getLineNumber();
    }

    private static final class Builder {
        final long deviceId;
        long[] origin = new long[16];
        long[] data = new long[16];
        long[] length = new long[16];
        int count;

        Builder(long deviceId) {
            this.deviceId = deviceId;
        }

        void add(long originBegin, long dataBegin, long runLength, XMLStreamReader reader, String where)
                throws CorruptInputException {
            if (runLength < 1) {
                throw CorruptInputException.of(at(reader, where), "mapping length", runLength, "at least 1");
            }
            long previousEnd = count == 0 ? 0 : origin[count - 1] + length[count - 1];
            if (originBegin < previousEnd) {
                throw CorruptInputException.of(
                        at(reader, where), "origin block", originBegin, "ascending, at least " + previousEnd);
            }
            if (count > 0 && originBegin == previousEnd && dataBegin == data[count - 1] + length[count - 1]) {
                length[count - 1] += runLength;
                return;
            }
            if (count == MAX_MAPPINGS) {
                throw CorruptInputException.of(
                        at(reader, where), "mappings of device " + deviceId, "more", "at most " + MAX_MAPPINGS);
            }
            if (count == origin.length) {
                int capacity = Math.min(MAX_MAPPINGS, count * 2);
                origin = Arrays.copyOf(origin, capacity);
                data = Arrays.copyOf(data, capacity);
                length = Arrays.copyOf(length, capacity);
            }
            origin[count] = originBegin;
            data[count] = dataBegin;
            length[count] = runLength;
            count++;
        }

        Mappings build() {
            return new Mappings(
                    deviceId, Arrays.copyOf(origin, count), Arrays.copyOf(data, count), Arrays.copyOf(length, count));
        }
    }
}
