package org.thinsr.vhdstream;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.UUID;

/**
 * The 512-byte hard disk footer (VHD spec, "Hard Disk Footer Format"), big-endian:
 *
 * <pre>
 *  offset size field
 *       0    8 Cookie                "conectix"
 *       8    4 Features              0x00000002 (reserved bit always set)
 *      12    4 File Format Version   0x00010000
 *      16    8 Data Offset           dynamic header offset; 0xFFFFFFFFFFFFFFFF for fixed disks
 *      24    4 Time Stamp            seconds since 2000-01-01T00:00:00Z
 *      28    4 Creator Application   e.g. "qem2", "tap\0", "win "
 *      32    4 Creator Version
 *      36    4 Creator Host OS       "Wi2k" or "Mac "
 *      40    8 Original Size         bytes
 *      48    8 Current Size          bytes: the virtual size
 *      56    4 Disk Geometry         cylinders (2), heads (1), sectors per track (1)
 *      60    4 Disk Type             2 fixed, 3 dynamic, 4 differencing
 *      64    4 Checksum              one's complement of the byte sum, this field counted as 0
 *      68   16 Unique Id
 *      84    1 Saved State
 *      85  427 Reserved              zeros
 * </pre>
 *
 * <p>A dynamic or differencing disk has the footer twice: a copy at offset 0 and the footer itself
 * in the file's last 512 bytes; a fixed disk only at the end.
 *
 * @param timestamp the raw unsigned 32-bit field
 * @param diskTypeCode the raw field; see {@link #diskType()}
 * @param checksum the checksum as stored (see {@link #encode()} which recomputes it)
 */
public record VhdFooter(
        String cookie,
        int features,
        int formatVersion,
        long dataOffset,
        int timestamp,
        String creatorApplication,
        int creatorVersion,
        String creatorHostOs,
        long originalSize,
        long currentSize,
        VhdGeometry geometry,
        int diskTypeCode,
        int checksum,
        UUID uniqueId,
        boolean savedState) {
    static final int COOKIE = 0;
    static final int FEATURES = 8;
    static final int FORMAT_VERSION = 12;
    static final int DATA_OFFSET = 16;
    static final int TIMESTAMP = 24;
    static final int CREATOR_APPLICATION = 28;
    static final int CREATOR_VERSION = 32;
    static final int CREATOR_HOST_OS = 36;
    static final int ORIGINAL_SIZE = 40;
    static final int CURRENT_SIZE = 48;
    static final int DISK_GEOMETRY = 56;
    static final int DISK_TYPE = 60;
    static final int CHECKSUM = 64;
    static final int UNIQUE_ID = 68;
    static final int SAVED_STATE = 84;

    public VhdFooter {
        Objects.requireNonNull(cookie, "cookie");
        Objects.requireNonNull(creatorApplication, "creatorApplication");
        Objects.requireNonNull(creatorHostOs, "creatorHostOs");
        Objects.requireNonNull(geometry, "geometry");
        Objects.requireNonNull(uniqueId, "uniqueId");
        requireCode(cookie, 8, "cookie");
        requireCode(creatorApplication, 4, "creatorApplication");
        requireCode(creatorHostOs, 4, "creatorHostOs");
    }

    /** The disk type, if the field holds a known one. */
    public java.util.Optional<VhdDiskType> diskType() {
        return VhdDiskType.ofCode(diskTypeCode);
    }

    /** The 512 bytes of this footer, with the checksum field recomputed (not {@link #checksum()}). */
    public byte[] encode() {
        byte[] bytes = new byte[VhdFormat.FOOTER_SIZE];
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        buffer.put(COOKIE, cookie.getBytes(StandardCharsets.ISO_8859_1));
        buffer.putInt(FEATURES, features);
        buffer.putInt(FORMAT_VERSION, formatVersion);
        buffer.putLong(DATA_OFFSET, dataOffset);
        buffer.putInt(TIMESTAMP, timestamp);
        buffer.put(CREATOR_APPLICATION, creatorApplication.getBytes(StandardCharsets.ISO_8859_1));
        buffer.putInt(CREATOR_VERSION, creatorVersion);
        buffer.put(CREATOR_HOST_OS, creatorHostOs.getBytes(StandardCharsets.ISO_8859_1));
        buffer.putLong(ORIGINAL_SIZE, originalSize);
        buffer.putLong(CURRENT_SIZE, currentSize);
        buffer.putInt(DISK_GEOMETRY, geometry.encode());
        buffer.putInt(DISK_TYPE, diskTypeCode);
        buffer.putLong(UNIQUE_ID, uniqueId.getMostSignificantBits());
        buffer.putLong(UNIQUE_ID + 8, uniqueId.getLeastSignificantBits());
        bytes[SAVED_STATE] = (byte) (savedState ? 1 : 0);
        buffer.putInt(CHECKSUM, VhdFormat.checksum(bytes, CHECKSUM));
        return bytes;
    }

    /**
     * Decodes 512 bytes without judging them (for {@code vhd info}); {@link #read} checks them.
     *
     * @param bytes exactly 512 bytes
     */
    public static VhdFooter decode(byte[] bytes) {
        if (bytes.length != VhdFormat.FOOTER_SIZE) {
            throw new IllegalArgumentException("a footer is 512 bytes, not " + bytes.length);
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        return new VhdFooter(
                VhdFormat.ascii(bytes, COOKIE, 8),
                buffer.getInt(FEATURES),
                buffer.getInt(FORMAT_VERSION),
                buffer.getLong(DATA_OFFSET),
                buffer.getInt(TIMESTAMP),
                VhdFormat.ascii(bytes, CREATOR_APPLICATION, 4),
                buffer.getInt(CREATOR_VERSION),
                VhdFormat.ascii(bytes, CREATOR_HOST_OS, 4),
                buffer.getLong(ORIGINAL_SIZE),
                buffer.getLong(CURRENT_SIZE),
                VhdGeometry.decode(buffer.getInt(DISK_GEOMETRY)),
                buffer.getInt(DISK_TYPE),
                buffer.getInt(CHECKSUM),
                new UUID(buffer.getLong(UNIQUE_ID), buffer.getLong(UNIQUE_ID + 8)),
                bytes[SAVED_STATE] != 0);
    }

    /** Whether {@code bytes} start with the footer cookie. */
    static boolean hasCookie(byte[] bytes) {
        return bytes.length >= 8 && VhdFormat.ascii(bytes, 0, 8).equals(VhdFormat.FOOTER_COOKIE);
    }

    /**
     * Decodes and checks a footer read at {@code offset} of an image: cookie, checksum, format
     * version, disk type, current size (a multiple of 512, at most 2040 GiB) and, for dynamic and
     * differencing disks, the data offset.
     *
     * @throws CorruptImageException naming the offset, field, actual and expected value
     */
    static VhdFooter read(byte[] bytes, long offset) throws CorruptImageException {
        VhdFooter footer = decode(bytes);
        if (!footer.cookie.equals(VhdFormat.FOOTER_COOKIE)) {
            throw CorruptImageException.at(
                    offset + COOKIE, "footer cookie", quote(footer.cookie), quote(VhdFormat.FOOTER_COOKIE));
        }
        int computed = VhdFormat.checksum(bytes, CHECKSUM);
        if (computed != footer.checksum) {
            throw CorruptImageException.at(offset + CHECKSUM, "footer checksum", hex(footer.checksum), hex(computed));
        }
        if ((footer.formatVersion >>> 16) != 1) {
            throw CorruptImageException.at(
                    offset + FORMAT_VERSION, "footer file format version", hex(footer.formatVersion), "0x0001xxxx");
        }
        if (footer.diskType().isEmpty()) {
            throw CorruptImageException.at(
                    offset + DISK_TYPE,
                    "footer disk type",
                    Integer.toUnsignedString(footer.diskTypeCode),
                    "2 (fixed), 3 (dynamic) or 4 (differencing)");
        }
        if (footer.currentSize < 0
                || footer.currentSize > VhdFormat.MAX_VIRTUAL_SIZE
                || footer.currentSize % VhdFormat.SECTOR_SIZE != 0) {
            throw CorruptImageException.at(
                    offset + CURRENT_SIZE,
                    "footer current size",
                    Long.toUnsignedString(footer.currentSize),
                    "a multiple of 512 in [0, " + VhdFormat.MAX_VIRTUAL_SIZE + "] (2040 GiB)");
        }
        boolean fixed = footer.diskType().orElseThrow() == VhdDiskType.FIXED;
        if (!fixed && (footer.dataOffset < VhdFormat.FOOTER_SIZE || footer.dataOffset % VhdFormat.SECTOR_SIZE != 0)) {
            throw CorruptImageException.at(
                    offset + DATA_OFFSET,
                    "footer data offset",
                    Long.toUnsignedString(footer.dataOffset),
                    "a multiple of 512, at least 512");
        }
        return footer;
    }

    static String hex(int value) {
        return String.format("0x%08x", value);
    }

    static String quote(String code) {
        return "\"" + VhdFormat.printable(code) + "\"";
    }

    private static void requireCode(String code, int length, String name) {
        if (code.length() != length) {
            throw new IllegalArgumentException(name + " must have " + length + " characters: " + quote(code));
        }
        for (int i = 0; i < code.length(); i++) {
            if (code.charAt(i) > 0xFF) {
                throw new IllegalArgumentException(name + " must be ISO-8859-1: " + quote(code));
            }
        }
    }
}
