package org.thinsr.vhdstream;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * The 1024-byte dynamic disk header (VHD spec, "Dynamic Disk Header Format"), big-endian:
 *
 * <pre>
 *  offset size field
 *       0    8 Cookie                "cxsparse"
 *       8    8 Data Offset           0xFFFFFFFFFFFFFFFF (unused)
 *      16    8 Table Offset          absolute offset of the BAT
 *      24    4 Header Version        0x00010000
 *      28    4 Max Table Entries     BAT entries: ceil(current size / block size)
 *      32    4 Block Size            bytes of data a block (2 MiB default), a power of two
 *      36    4 Checksum              one's complement of the byte sum, this field counted as 0
 *      40   16 Parent Unique ID      differencing: the parent footer's unique id
 *      56    4 Parent Time Stamp     differencing: seconds since 2000-01-01
 *      60    4 Reserved
 *      64  512 Parent Unicode Name   differencing: UTF-16BE, zero-padded
 *     576  192 Parent Locators       8 × 24 bytes, see {@link VhdParentLocator}
 *     768  256 Reserved              zeros
 * </pre>
 *
 * @param parentUnicodeName the decoded name, trailing NULs removed
 * @param parentLocators exactly eight entries, unused ones {@link VhdParentLocator#isUsed() not
 *     used}
 */
public record VhdDynamicHeader(
        String cookie,
        long dataOffset,
        long tableOffset,
        int headerVersion,
        int maxTableEntries,
        int blockSize,
        int checksum,
        UUID parentUniqueId,
        int parentTimestamp,
        String parentUnicodeName,
        List<VhdParentLocator> parentLocators) {
    static final int COOKIE = 0;
    static final int DATA_OFFSET = 8;
    static final int TABLE_OFFSET = 16;
    static final int HEADER_VERSION = 24;
    static final int MAX_TABLE_ENTRIES = 28;
    static final int BLOCK_SIZE = 32;
    static final int CHECKSUM = 36;
    static final int PARENT_UNIQUE_ID = 40;
    static final int PARENT_TIMESTAMP = 56;
    static final int PARENT_UNICODE_NAME = 64;
    static final int PARENT_UNICODE_NAME_SIZE = 512;
    static final int PARENT_LOCATORS = 576;
    static final int LOCATOR_COUNT = 8;

    public VhdDynamicHeader {
        Objects.requireNonNull(cookie, "cookie");
        Objects.requireNonNull(parentUniqueId, "parentUniqueId");
        Objects.requireNonNull(parentUnicodeName, "parentUnicodeName");
        parentLocators = List.copyOf(parentLocators);
        if (parentLocators.size() != LOCATOR_COUNT) {
            throw new IllegalArgumentException("a header has 8 parent locators, not " + parentLocators.size());
        }
        if (parentUnicodeName.getBytes(StandardCharsets.UTF_16BE).length > PARENT_UNICODE_NAME_SIZE) {
            throw new IllegalArgumentException("parent name longer than 256 UTF-16 units: " + parentUnicodeName);
        }
    }

    /** The 1024 bytes of this header, with the checksum field recomputed. */
    public byte[] encode() {
        byte[] bytes = new byte[VhdFormat.HEADER_SIZE];
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        buffer.put(COOKIE, cookie.getBytes(StandardCharsets.ISO_8859_1));
        buffer.putLong(DATA_OFFSET, dataOffset);
        buffer.putLong(TABLE_OFFSET, tableOffset);
        buffer.putInt(HEADER_VERSION, headerVersion);
        buffer.putInt(MAX_TABLE_ENTRIES, maxTableEntries);
        buffer.putInt(BLOCK_SIZE, blockSize);
        buffer.putLong(PARENT_UNIQUE_ID, parentUniqueId.getMostSignificantBits());
        buffer.putLong(PARENT_UNIQUE_ID + 8, parentUniqueId.getLeastSignificantBits());
        buffer.putInt(PARENT_TIMESTAMP, parentTimestamp);
        buffer.put(PARENT_UNICODE_NAME, parentUnicodeName.getBytes(StandardCharsets.UTF_16BE));
        for (int i = 0; i < LOCATOR_COUNT; i++) {
            VhdParentLocator locator = parentLocators.get(i);
            int at = PARENT_LOCATORS + i * VhdParentLocator.SIZE;
            buffer.putInt(at, locator.platformCode());
            buffer.putInt(at + 4, locator.dataSpace());
            buffer.putInt(at + 8, locator.dataLength());
            buffer.putLong(at + 16, locator.dataOffset());
        }
        buffer.putInt(CHECKSUM, VhdFormat.checksum(bytes, CHECKSUM));
        return bytes;
    }

    /** Decodes 1024 bytes without judging them; {@link #read} checks them. */
    public static VhdDynamicHeader decode(byte[] bytes) {
        if (bytes.length != VhdFormat.HEADER_SIZE) {
            throw new IllegalArgumentException("a dynamic header is 1024 bytes, not " + bytes.length);
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        int nameLength = PARENT_UNICODE_NAME_SIZE;
        while (nameLength >= 2
                && bytes[PARENT_UNICODE_NAME + nameLength - 1] == 0
                && bytes[PARENT_UNICODE_NAME + nameLength - 2] == 0) {
            nameLength -= 2;
        }
        List<VhdParentLocator> locators = new ArrayList<>(LOCATOR_COUNT);
        for (int i = 0; i < LOCATOR_COUNT; i++) {
            int at = PARENT_LOCATORS + i * VhdParentLocator.SIZE;
            locators.add(new VhdParentLocator(
                    buffer.getInt(at), buffer.getInt(at + 4), buffer.getInt(at + 8), buffer.getLong(at + 16)));
        }
        return new VhdDynamicHeader(
                VhdFormat.ascii(bytes, COOKIE, 8),
                buffer.getLong(DATA_OFFSET),
                buffer.getLong(TABLE_OFFSET),
                buffer.getInt(HEADER_VERSION),
                buffer.getInt(MAX_TABLE_ENTRIES),
                buffer.getInt(BLOCK_SIZE),
                buffer.getInt(CHECKSUM),
                new UUID(buffer.getLong(PARENT_UNIQUE_ID), buffer.getLong(PARENT_UNIQUE_ID + 8)),
                buffer.getInt(PARENT_TIMESTAMP),
                new String(bytes, PARENT_UNICODE_NAME, nameLength, StandardCharsets.UTF_16BE),
                locators);
    }

    /**
     * Decodes and checks a header read at {@code offset}: cookie, checksum, version, block size (a
     * power of two in [512 KiB, 256 MiB]), table offset (sector-aligned, inside the file) and the
     * number of entries against the virtual size and the file length, and the parent locators
     * (bounded lengths, inside the file).
     *
     * @param virtualSize the footer's current size
     * @param fileLength the image length in bytes
     */
    static VhdDynamicHeader read(byte[] bytes, long offset, long virtualSize, long fileLength)
            throws CorruptImageException {
        VhdDynamicHeader header = decode(bytes);
        if (!header.cookie.equals(VhdFormat.HEADER_COOKIE)) {
            throw CorruptImageException.at(
                    offset + COOKIE,
                    "dynamic header cookie",
                    VhdFooter.quote(header.cookie),
                    VhdFooter.quote(VhdFormat.HEADER_COOKIE));
        }
        int computed = VhdFormat.checksum(bytes, CHECKSUM);
        if (computed != header.checksum) {
            throw CorruptImageException.at(
                    offset + CHECKSUM,
                    "dynamic header checksum",
                    VhdFooter.hex(header.checksum),
                    VhdFooter.hex(computed));
        }
        if ((header.headerVersion >>> 16) != 1) {
            throw CorruptImageException.at(
                    offset + HEADER_VERSION,
                    "dynamic header version",
                    VhdFooter.hex(header.headerVersion),
                    "0x0001xxxx");
        }
        int blockSize = header.blockSize;
        if (Integer.bitCount(blockSize) != 1
                || blockSize < VhdFormat.MIN_BLOCK_SIZE
                || blockSize > VhdFormat.MAX_BLOCK_SIZE) {
            throw CorruptImageException.at(
                    offset + BLOCK_SIZE,
                    "dynamic header block size",
                    Integer.toUnsignedString(blockSize),
                    "a power of two in [524288, 268435456]");
        }
        long neededEntries = (virtualSize + blockSize - 1) / blockSize;
        long entries = Integer.toUnsignedLong(header.maxTableEntries);
        long tableOffset = header.tableOffset;
        if (tableOffset < VhdFormat.FOOTER_SIZE
                || tableOffset % VhdFormat.SECTOR_SIZE != 0
                || tableOffset > fileLength - VhdFormat.FOOTER_SIZE) {
            throw CorruptImageException.at(
                    offset + TABLE_OFFSET,
                    "dynamic header table offset",
                    Long.toUnsignedString(tableOffset),
                    "a multiple of 512 in [512, " + (fileLength - VhdFormat.FOOTER_SIZE) + "]");
        }
        long maxEntriesInFile = (fileLength - VhdFormat.FOOTER_SIZE - tableOffset) / 4;
        // Writers may size the BAT for a later resize (vhd-util create -S), so more entries than
        // needed are allowed, up to what 2040 GiB needs and what fits in the file.
        long maxEntries = Math.min(maxEntriesInFile, VhdFormat.MAX_VIRTUAL_SIZE / blockSize);
        if (entries < neededEntries || entries > maxEntries) {
            throw CorruptImageException.at(
                    offset + MAX_TABLE_ENTRIES,
                    "dynamic header max table entries",
                    entries,
                    "in [" + neededEntries + ", " + maxEntries
                            + "] (ceil(current size / block size) .. 2040 GiB / block size, BAT inside the file)");
        }
        for (int i = 0; i < LOCATOR_COUNT; i++) {
            VhdParentLocator locator = header.parentLocators.get(i);
            if (!locator.isUsed()) {
                continue;
            }
            long at = offset + PARENT_LOCATORS + (long) i * VhdParentLocator.SIZE;
            long length = Integer.toUnsignedLong(locator.dataLength());
            if (length > VhdParentLocator.MAX_DATA_LENGTH || length > locator.dataSpaceBytes()) {
                throw CorruptImageException.at(
                        at + 8,
                        "parent locator " + i + " data length",
                        length,
                        "at most min(65536, data space " + locator.dataSpaceBytes() + ")");
            }
            long dataOffset = locator.dataOffset();
            if (dataOffset < VhdFormat.FOOTER_SIZE || dataOffset > fileLength - VhdFormat.FOOTER_SIZE - length) {
                throw CorruptImageException.at(
                        at + 16,
                        "parent locator " + i + " data offset",
                        Long.toUnsignedString(dataOffset),
                        "in [512, " + (fileLength - VhdFormat.FOOTER_SIZE - length) + "]");
            }
        }
        return header;
    }

    /** BAT bytes on disk: {@code 4 × maxTableEntries} rounded up to whole sectors. */
    long batBytes() {
        return VhdFormat.roundUpToSector(4 * Integer.toUnsignedLong(maxTableEntries));
    }
}
