package org.thinsr.allocmap;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses the XML that {@code thin_dump} prints (thin-provisioning-tools 0.9 and 1.x), streaming, in
 * one pass, into a {@link ThinMetadata}.
 *
 * <pre>
 * &lt;superblock uuid time transaction [flags] [version] data_block_size nr_data_blocks [metadata_snap]&gt;
 *   &lt;def name&gt; (mapping | ref)* &lt;/def&gt;                          1.x: a shared subtree
 *   &lt;device dev_id mapped_blocks transaction creation_time snap_time&gt;
 *     &lt;range_mapping origin_begin data_begin length time/&gt;
 *     &lt;single_mapping origin_block data_block time/&gt;
 *     &lt;ref name/&gt;                                                1.x: a def's mappings, here
 *   &lt;/device&gt;
 * &lt;/superblock&gt;
 * </pre>
 *
 * <p>Blocks are thin blocks of {@code data_block_size} 512-byte sectors. Strict: an unknown element
 * or attribute, a missing or repeated attribute, a number that is negative, not decimal or out of
 * range, a mapping whose end times the block size passes {@code 2^63}, a data block at or past
 * {@code nr_data_blocks} (when that is not 0, as in {@code -m} dumps), mappings of one device out of
 * ascending origin order or overlapping, a repeated {@code dev_id}, and everything {@link
 * XmlScanner} refuses (DOCTYPE, entities, truncation, trailing content) throw an {@link
 * InvalidXmlException} naming the line. The XML is read by a hand-written byte scanner rather than
 * StAX: it is as strict and 3 to 6 times as fast (docs/PERFORMANCE.md).
 *
 * <p>Mappings are stored as coalesced runs in primitive arrays (24 bytes a run); at most {@link
 * #maxRuns()} runs are kept in all (default {@value #DEFAULT_MAX_RUNS}), more throw. Thread-safe
 * (immutable); each call reads its stream forward once and does not close it.
 */
public final class ThinDumpParser {
    /** Default bound on the stored runs of all devices and defs together (about 1.5 GiB). */
    public static final long DEFAULT_MAX_RUNS = 1L << 26;

    private static final int MAX_DEF_NAME_LENGTH = 64;
    /** dm-thin device ids are 24 bits wide. */
    private static final int MAX_DEVICES = 1 << 24;

    private static final byte[] SUPERBLOCK = XmlScanner.bytes("superblock");
    private static final byte[] DEVICE = XmlScanner.bytes("device");
    private static final byte[] DEF = XmlScanner.bytes("def");
    private static final byte[] REF = XmlScanner.bytes("ref");
    private static final byte[] SINGLE_MAPPING = XmlScanner.bytes("single_mapping");
    private static final byte[] RANGE_MAPPING = XmlScanner.bytes("range_mapping");

    private static final byte[] TIME = XmlScanner.bytes("time");
    private static final byte[] TRANSACTION = XmlScanner.bytes("transaction");
    private static final byte[] DEV_ID = XmlScanner.bytes("dev_id");
    private static final byte[] MAPPED_BLOCKS = XmlScanner.bytes("mapped_blocks");
    private static final byte[] CREATION_TIME = XmlScanner.bytes("creation_time");
    private static final byte[] SNAP_TIME = XmlScanner.bytes("snap_time");
    private static final byte[] ORIGIN_BLOCK = XmlScanner.bytes("origin_block");
    private static final byte[] DATA_BLOCK = XmlScanner.bytes("data_block");
    private static final byte[] ORIGIN_BEGIN = XmlScanner.bytes("origin_begin");
    private static final byte[] DATA_BEGIN = XmlScanner.bytes("data_begin");
    private static final byte[] LENGTH = XmlScanner.bytes("length");
    private static final byte[] NAME = XmlScanner.bytes("name");

    private final long maxRuns;

    private ThinDumpParser(long maxRuns) {
        if (maxRuns < 0) {
            throw new IllegalArgumentException("maxRuns is negative: " + maxRuns);
        }
        this.maxRuns = maxRuns;
    }

    /** A parser with the default bounds. */
    public static ThinDumpParser create() {
        return new ThinDumpParser(DEFAULT_MAX_RUNS);
    }

    /** A parser that keeps at most {@code maxRuns} runs (all devices and defs together). */
    public ThinDumpParser withMaxRuns(long maxRuns) {
        return new ThinDumpParser(maxRuns);
    }

    public long maxRuns() {
        return maxRuns;
    }

    /** Parses every device. {@code source} names the input in messages. */
    public ThinMetadata parse(InputStream in, String source) throws IOException {
        return new Run(new XmlScanner(in, source), null).document();
    }

    /**
     * Parses the superblock and only device {@code devId}; the other devices' mappings are checked
     * but not stored. The result holds no device when the dump has no such device.
     */
    public ThinMetadata parse(InputStream in, String source, long devId) throws IOException {
        return new Run(new XmlScanner(in, source), Set.of(devId)).document();
    }

    /**
     * Parses the superblock and the devices whose dev_id is in {@code devIds} (in document order);
     * the other devices' mappings are checked but not stored.
     */
    public ThinMetadata parse(InputStream in, String source, Set<Long> devIds) throws IOException {
        return new Run(new XmlScanner(in, source), Set.copyOf(devIds)).document();
    }

    /** Parses every device of a file. */
    public ThinMetadata parse(Path file) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return parse(in, file.toString());
        }
    }

    /** Parses the superblock and device {@code devId} of a file. */
    public ThinMetadata parse(Path file, long devId) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return parse(in, file.toString(), devId);
        }
    }

    /** Receives the mappings of one device or def, checks order and bounds, stores or drops them. */
    private static final class Target {
        private final MappingRuns.Builder runs;
        private long lastOriginEnd;

        Target(boolean store) {
            this.runs = store ? new MappingRuns.Builder() : null;
        }
    }

    /** The state of one parse. */
    private final class Run {
        private final XmlScanner scanner;
        /** The dev_ids to keep; null keeps all. */
        private final Set<Long> wanted;

        private final Map<String, MappingRuns> defs = new HashMap<>();
        private final Set<Long> deviceIds = new HashSet<>();
        private final List<Long> deviceOrder = new ArrayList<>();
        private final List<ThinDevice> devices = new ArrayList<>();
        private long storedRuns;
        private long blockSizeBytes;
        private long maxOriginBlocks;
        private long nrDataBlocks;

        Run(XmlScanner scanner, Set<Long> wanted) {
            this.scanner = scanner;
            this.wanted = wanted;
        }

        ThinMetadata document() throws IOException {
            XmlScanner.Token token = scanner.next();
            if (token != XmlScanner.Token.START || !scanner.nameIs(SUPERBLOCK)) {
                throw scanner.error("root element", describe(token), "<superblock>");
            }
            ThinSuperblock superblock = superblock();
            blockSizeBytes = superblock.dataBlockSizeBytes();
            maxOriginBlocks = Long.MAX_VALUE / blockSizeBytes;
            nrDataBlocks = superblock.nrDataBlocks();
            if (!scanner.isEmptyElement()) {
                while (true) {
                    token = scanner.next();
                    if (token == XmlScanner.Token.END) {
                        break;
                    }
                    if (token != XmlScanner.Token.START) {
                        throw scanner.error("element in <superblock>", describe(token), "<device> or <def>");
                    }
                    if (scanner.nameIs(DEVICE)) {
                        device();
                    } else if (scanner.nameIs(DEF)) {
                        def();
                    } else {
                        throw scanner.error(
                                "unknown element in <superblock>", "<" + scanner.name() + ">", "<device> or <def>");
                    }
                }
            }
            token = scanner.next();
            if (token != XmlScanner.Token.EOF) {
                throw scanner.error("trailing content", describe(token), "end of input after </superblock>");
            }
            return new ThinMetadata(superblock, devices, deviceOrder);
        }

        private String describe(XmlScanner.Token token) {
            return ThinXml.describe(scanner, token);
        }

        private ThinSuperblock superblock() throws InvalidXmlException {
            return ThinXml.superblock(scanner);
        }

        private void device() throws IOException {
            long devId = -1;
            long mappedBlocks = -1;
            long transaction = -1;
            long creationTime = -1;
            long snapTime = -1;
            for (int i = 0; i < scanner.attributeCount(); i++) {
                if (scanner.attributeNameIs(i, DEV_ID)) {
                    devId = onceLong(devId < 0, i, scanner.attributeLong(i, ThinXml.MAX_U32));
                } else if (scanner.attributeNameIs(i, MAPPED_BLOCKS)) {
                    mappedBlocks = onceLong(mappedBlocks < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, TRANSACTION)) {
                    transaction = onceLong(transaction < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, CREATION_TIME)) {
                    creationTime = onceLong(creationTime < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, SNAP_TIME)) {
                    snapTime = onceLong(snapTime < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else {
                    throw unknownAttribute(i, "dev_id, mapped_blocks, transaction, creation_time, snap_time");
                }
            }
            require(devId >= 0, "dev_id");
            require(mappedBlocks >= 0, "mapped_blocks");
            require(transaction >= 0, "transaction");
            require(creationTime >= 0, "creation_time");
            require(snapTime >= 0, "snap_time");
            if (!deviceIds.add(devId)) {
                throw scanner.error("attribute dev_id of <device>", devId + " again", "a dev_id not seen before");
            }
            if (deviceOrder.size() == MAX_DEVICES) {
                throw scanner.error("devices", "more than " + MAX_DEVICES, "at most " + MAX_DEVICES);
            }
            deviceOrder.add(devId);
            boolean store = wanted == null || wanted.contains(devId);
            Target target = new Target(store);
            if (!scanner.isEmptyElement()) {
                mappings(target, "device");
            }
            if (store) {
                devices.add(new ThinDevice(
                        devId, mappedBlocks, transaction, creationTime, snapTime, blockSizeBytes, target.runs.build()));
            }
        }

        private void def() throws IOException {
            String name = null;
            for (int i = 0; i < scanner.attributeCount(); i++) {
                if (scanner.attributeNameIs(i, NAME)) {
                    name = onceString(name == null, i, defName(i));
                } else {
                    throw unknownAttribute(i, "name");
                }
            }
            require(name != null, "name");
            if (defs.containsKey(name)) {
                throw scanner.error("attribute name of <def>", XmlScanner.quote(name) + " again", "a new name");
            }
            Target target = new Target(true);
            if (!scanner.isEmptyElement()) {
                mappings(target, "def");
            }
            defs.put(name, target.runs.build());
        }

        private String defName(int index) throws InvalidXmlException {
            String name = scanner.attributeString(index);
            if (name.isEmpty() || name.length() > MAX_DEF_NAME_LENGTH) {
                throw scanner.error(
                        "attribute name of <" + scanner.name() + ">",
                        XmlScanner.quote(name),
                        "1 to " + MAX_DEF_NAME_LENGTH + " characters");
            }
            return name;
        }

        /** Reads mapping elements up to the end tag of the enclosing {@code container}. */
        private void mappings(Target target, String container) throws IOException {
            while (true) {
                XmlScanner.Token token = scanner.next();
                if (token == XmlScanner.Token.END) {
                    return;
                }
                if (token != XmlScanner.Token.START) {
                    throw scanner.error("element in <" + container + ">", describe(token), "a mapping");
                }
                if (scanner.nameIs(SINGLE_MAPPING)) {
                    singleMapping(target);
                } else if (scanner.nameIs(RANGE_MAPPING)) {
                    rangeMapping(target);
                } else if (scanner.nameIs(REF)) {
                    ref(target);
                } else {
                    throw scanner.error(
                            "unknown element in <" + container + ">",
                            "<" + scanner.name() + ">",
                            "<single_mapping>, <range_mapping> or <ref>");
                }
                if (!scanner.isEmptyElement()) {
                    String name = scanner.name();
                    token = scanner.next();
                    if (token != XmlScanner.Token.END) {
                        throw scanner.error("content of <" + name + ">", describe(token), "</" + name + ">");
                    }
                }
            }
        }

        private void singleMapping(Target target) throws InvalidXmlException {
            long origin = -1;
            long data = -1;
            long time = -1;
            for (int i = 0; i < scanner.attributeCount(); i++) {
                if (scanner.attributeNameIs(i, ORIGIN_BLOCK)) {
                    origin = onceLong(origin < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, DATA_BLOCK)) {
                    data = onceLong(data < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, TIME)) {
                    time = onceLong(time < 0, i, scanner.attributeLong(i, ThinXml.MAX_U32));
                } else {
                    throw unknownAttribute(i, "origin_block, data_block, time");
                }
            }
            require(origin >= 0, "origin_block");
            require(data >= 0, "data_block");
            require(time >= 0, "time");
            add(target, origin, data, 1);
        }

        private void rangeMapping(Target target) throws InvalidXmlException {
            long origin = -1;
            long data = -1;
            long length = -1;
            long time = -1;
            for (int i = 0; i < scanner.attributeCount(); i++) {
                if (scanner.attributeNameIs(i, ORIGIN_BEGIN)) {
                    origin = onceLong(origin < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, DATA_BEGIN)) {
                    data = onceLong(data < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, LENGTH)) {
                    length = onceLong(length < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                } else if (scanner.attributeNameIs(i, TIME)) {
                    time = onceLong(time < 0, i, scanner.attributeLong(i, ThinXml.MAX_U32));
                } else {
                    throw unknownAttribute(i, "origin_begin, data_begin, length, time");
                }
            }
            require(origin >= 0, "origin_begin");
            require(data >= 0, "data_begin");
            require(length >= 0, "length");
            require(time >= 0, "time");
            if (length == 0) {
                throw scanner.error("attribute length of <range_mapping>", 0, "at least 1 block");
            }
            add(target, origin, data, length);
        }

        private void ref(Target target) throws InvalidXmlException {
            String name = null;
            for (int i = 0; i < scanner.attributeCount(); i++) {
                if (scanner.attributeNameIs(i, NAME)) {
                    name = onceString(name == null, i, defName(i));
                } else {
                    throw unknownAttribute(i, "name");
                }
            }
            require(name != null, "name");
            MappingRuns def = defs.get(name);
            if (def == null) {
                throw scanner.error(
                        "attribute name of <ref>",
                        XmlScanner.quote(name),
                        "the name of an earlier <def> " + defs.keySet());
            }
            for (int i = 0; i < def.count(); i++) {
                add(target, def.origin(i), def.data(i), def.length(i));
            }
        }

        private void add(Target target, long origin, long data, long length) throws InvalidXmlException {
            if (origin > maxOriginBlocks - length) {
                throw scanner.error(
                        "mapping of origin blocks [" + origin + ", +" + length + ")",
                        "end past " + maxOriginBlocks + " blocks",
                        "an end whose byte offset (block * " + blockSizeBytes + ") fits a signed 64-bit number");
            }
            long dataLimit = nrDataBlocks > 0 ? nrDataBlocks : maxOriginBlocks;
            if (data > dataLimit - length) {
                throw scanner.error(
                        "mapping of data blocks [" + data + ", +" + length + ")",
                        "end " + (data > Long.MAX_VALUE - length ? "past 2^63" : Long.toString(data + length)),
                        nrDataBlocks > 0
                                ? "data blocks below nr_data_blocks " + nrDataBlocks
                                : "an end whose byte offset fits a signed 64-bit number");
            }
            if (origin < target.lastOriginEnd) {
                throw scanner.error(
                        "mapping order",
                        "origin block " + origin,
                        "at least " + target.lastOriginEnd + " (mappings of a device ascend and do not overlap)");
            }
            target.lastOriginEnd = origin + length;
            if (target.runs != null) {
                int before = target.runs.count();
                if (!target.runs.append(origin, data, length, Integer.MAX_VALUE)) {
                    throw tooManyRuns();
                }
                if (target.runs.count() != before && ++storedRuns > maxRuns) {
                    throw tooManyRuns();
                }
            }
        }

        private InvalidXmlException tooManyRuns() {
            return scanner.error("stored mapping runs", "more than " + maxRuns, "at most " + maxRuns + " in all");
        }

        private long onceLong(boolean first, int index, long value) throws InvalidXmlException {
            return ThinXml.onceLong(scanner, first, index, value);
        }

        private String onceString(boolean first, int index, String value) throws InvalidXmlException {
            return ThinXml.onceString(scanner, first, index, value);
        }

        private void require(boolean present, String attribute) throws InvalidXmlException {
            ThinXml.require(scanner, present, attribute);
        }

        private InvalidXmlException unknownAttribute(int index, String expected) {
            return ThinXml.unknownAttribute(scanner, index, expected);
        }
    }
}
