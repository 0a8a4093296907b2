package org.thinsr.vhdstream;

/**
 * One of the eight 24-byte parent locator entries of the dynamic header (VHD spec, "Dynamic Disk
 * Header Format"), big-endian:
 *
 * <pre>
 *  offset size field
 *       0    4 Platform Code         0 none, "W2ku" absolute and "W2ru" relative UTF-16LE path,
 *                                    "MacX" UTF-8 file URL, "Wi2k"/"Wi2r"/"Mac " (deprecated)
 *       4    4 Platform Data Space   sectors reserved for the data (some writers store bytes)
 *       8    4 Platform Data Length  bytes of locator data
 *      12    4 Reserved
 *      16    8 Platform Data Offset  absolute file offset of the data
 * </pre>
 *
 * @param platformCode the raw four-character code as an {@code int}; 0 for an unused entry
 */
public record VhdParentLocator(int platformCode, int dataSpace, int dataLength, long dataOffset) {
    /** Bytes of one entry. */
    static final int SIZE = 24;

    /** No locator in this entry. */
    public static final int PLATFORM_NONE = 0;

    /** "W2ku": absolute Windows path, UTF-16LE. */
    public static final int PLATFORM_W2KU = 0x57326B75;

    /** "W2ru": path relative to the child, UTF-16LE. */
    public static final int PLATFORM_W2RU = 0x57327275;

    /** "MacX": file URL, UTF-8. */
    public static final int PLATFORM_MACX = 0x4D616358;

    /** The largest locator data thinsr reads or writes: a 32767-character UTF-16 path. */
    static final int MAX_DATA_LENGTH = 65_536;

    /** An unused entry. */
    static final VhdParentLocator NONE = new VhdParentLocator(PLATFORM_NONE, 0, 0, 0);

    /** Whether the entry is used (platform code not 0). */
    public boolean isUsed() {
        return platformCode != PLATFORM_NONE;
    }

    /** The platform code as four characters, e.g. {@code "W2ku"}. */
    public String platformName() {
        byte[] code = {
            (byte) (platformCode >>> 24), (byte) (platformCode >>> 16), (byte) (platformCode >>> 8), (byte) platformCode
        };
        return VhdFormat.ascii(code, 0, 4);
    }

    /**
     * Bytes reserved for the data: the spec counts sectors, but some writers store bytes; a value
     * under 512 is taken as sectors, anything larger as bytes (blktap's reading of the field).
     */
    public long dataSpaceBytes() {
        long space = Integer.toUnsignedLong(dataSpace);
        return space < VhdFormat.SECTOR_SIZE ? space * VhdFormat.SECTOR_SIZE : space;
    }
}
