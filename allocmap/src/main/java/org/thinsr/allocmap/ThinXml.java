package org.thinsr.allocmap;

import java.util.OptionalLong;

/** Pieces shared by the {@code thin_dump} and {@code thin_delta} parsers. */
final class ThinXml {
    static final long MAX_U32 = 0xFFFF_FFFFL;

    private static final byte[] UUID = XmlScanner.bytes("uuid");
    private static final byte[] TIME = XmlScanner.bytes("time");
    private static final byte[] TRANSACTION = XmlScanner.bytes("transaction");
    private static final byte[] FLAGS = XmlScanner.bytes("flags");
    private static final byte[] VERSION = XmlScanner.bytes("version");
    private static final byte[] DATA_BLOCK_SIZE = XmlScanner.bytes("data_block_size");
    private static final byte[] NR_DATA_BLOCKS = XmlScanner.bytes("nr_data_blocks");
    private static final byte[] METADATA_SNAP = XmlScanner.bytes("metadata_snap");

    private ThinXml() {}

    static ThinSuperblock superblock(XmlScanner scanner) throws InvalidXmlException {
        String uuid = null;
        long time = -1;
        long transaction = -1;
        long flags = -1;
        long version = -1;
        long dataBlockSize = -1;
        long nrBlocks = -1;
        long metadataSnap = -1;
        for (int i = 0; i < scanner.attributeCount(); i++) {
            if (scanner.attributeNameIs(i, UUID)) {
                uuid = onceString(scanner, uuid == null, i, scanner.attributeString(i));
            } else if (scanner.attributeNameIs(i, TIME)) {
                time = onceLong(scanner, time < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
            } else if (scanner.attributeNameIs(i, TRANSACTION)) {
                transaction = onceLong(scanner, transaction < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
            } else if (scanner.attributeNameIs(i, FLAGS)) {
                flags = onceLong(scanner, flags < 0, i, scanner.attributeLong(i, MAX_U32));
            } else if (scanner.attributeNameIs(i, VERSION)) {
                version = onceLong(scanner, version < 0, i, scanner.attributeLong(i, MAX_U32));
            } else if (scanner.attributeNameIs(i, DATA_BLOCK_SIZE)) {
                dataBlockSize = onceLong(scanner, dataBlockSize < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
                if (dataBlockSize < 1 || dataBlockSize > ThinSuperblock.MAX_DATA_BLOCK_SIZE_SECTORS) {
                    throw scanner.error(
                            "attribute data_block_size of <superblock>",
                            dataBlockSize,
                            "a block size in [1, " + ThinSuperblock.MAX_DATA_BLOCK_SIZE_SECTORS + "] sectors");
                }
            } else if (scanner.attributeNameIs(i, NR_DATA_BLOCKS)) {
                nrBlocks = onceLong(scanner, nrBlocks < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
            } else if (scanner.attributeNameIs(i, METADATA_SNAP)) {
                metadataSnap = onceLong(scanner, metadataSnap < 0, i, scanner.attributeLong(i, Long.MAX_VALUE));
            } else {
                throw unknownAttribute(
                        scanner,
                        i,
                        "uuid, time, transaction, flags, version, data_block_size, " + "nr_data_blocks, metadata_snap");
            }
        }
        require(scanner, uuid != null, "uuid");
        require(scanner, time >= 0, "time");
        require(scanner, transaction >= 0, "transaction");
        require(scanner, dataBlockSize >= 0, "data_block_size");
        require(scanner, nrBlocks >= 0, "nr_data_blocks");
        return new ThinSuperblock(
                uuid,
                time,
                transaction,
                optional(flags),
                optional(version),
                dataBlockSize,
                nrBlocks,
                optional(metadataSnap));
    }

    static long onceLong(XmlScanner scanner, boolean first, int index, long value) throws InvalidXmlException {
        if (!first) {
            throw twice(scanner, index);
        }
        return value;
    }

    static String onceString(XmlScanner scanner, boolean first, int index, String value) throws InvalidXmlException {
        if (!first) {
            throw twice(scanner, index);
        }
        return value;
    }

    private static InvalidXmlException twice(XmlScanner scanner, int index) {
        return scanner.error(
                "attribute " + scanner.attributeName(index) + " of <" + scanner.name() + ">", "given twice", "once");
    }

    static void require(XmlScanner scanner, boolean present, String attribute) throws InvalidXmlException {
        if (!present) {
            throw scanner.error("<" + scanner.name() + ">", "no attribute " + attribute, "attribute " + attribute);
        }
    }

    static InvalidXmlException unknownAttribute(XmlScanner scanner, int index, String expected) {
        return scanner.error(
                "unknown attribute of <" + scanner.name() + ">", scanner.attributeName(index), "one of " + expected);
    }

    static String describe(XmlScanner scanner, XmlScanner.Token token) {
        return switch (token) {
            case START -> "<" + scanner.name() + ">";
            case END -> "</" + scanner.name() + ">";
            case EOF -> "end of input";
        };
    }

    private static OptionalLong optional(long value) {
        return value < 0 ? OptionalLong.empty() : OptionalLong.of(value);
    }
}
