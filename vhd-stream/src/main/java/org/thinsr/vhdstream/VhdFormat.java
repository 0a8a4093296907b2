package org.thinsr.vhdstream;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Constants and small helpers of the Microsoft Virtual Hard Disk Image Format Specification
 * (version 1.0, October 2006): cookies, structure sizes, the checksum and the time base. Every
 * multi-byte field of a VHD is big-endian.
 */
final class VhdFormat {
    /** Footer cookie, offset 0 of the footer. */
    static final String FOOTER_COOKIE = "conectix";

    /** Dynamic disk header cookie, offset 0 of the header. */
    static final String HEADER_COOKIE = "cxsparse";

    static final int SECTOR_SIZE = 512;
    static final int FOOTER_SIZE = 512;
    static final int HEADER_SIZE = 1024;

    /** A BAT entry for a block that is not in the file. */
    static final int UNUSED_BAT_ENTRY = 0xFFFFFFFF;

    /** {@code Data Offset} of a fixed disk's footer, and of the dynamic header: no next structure. */
    static final long NO_DATA_OFFSET = 0xFFFFFFFFFFFFFFFFL;

    /** File format and header version 1.0. */
    static final int VERSION_1_0 = 0x00010000;

    /** Footer {@code Features}: bit 1 is reserved and must always be set. */
    static final int FEATURES_RESERVED = 0x00000002;

    /**
     * The largest virtual size a VHD may have: 2040 GiB. Hyper-V, xapi ({@code VDI_TOO_LARGE}) and
     * qemu ({@code VHD_MAX_SECTORS}) all stop here.
     */
    static final long MAX_VIRTUAL_SIZE = 2040L << 30;

    /** The block size thinsr writes: 2 MiB, the spec's default and the only one xapi uses. */
    static final int DEFAULT_BLOCK_SIZE = 2 << 20;

    /** The smallest block size the reader accepts (a power of two, 512 KiB .. 256 MiB). */
    static final int MIN_BLOCK_SIZE = 512 << 10;

    /** The largest block size the reader accepts. */
    static final int MAX_BLOCK_SIZE = 256 << 20;

    /** VHD time stamps count seconds since 2000-01-01T00:00:00Z. */
    static final long EPOCH_2000_UNIX_SECONDS = 946_684_800L;

    private VhdFormat() {}

    /**
     * The spec's checksum: the one's complement of the sum of all bytes of the structure, with the
     * four bytes of the checksum field itself counted as zero.
     *
     * @param structure the whole footer (512 bytes) or dynamic header (1024 bytes)
     * @param checksumOffset where the checksum field starts inside {@code structure}
     */
    static int checksum(byte[] structure, int checksumOffset) {
        int sum = 0;
        for (int i = 0; i < structure.length; i++) {
            if (i < checksumOffset || i >= checksumOffset + 4) {
                sum += structure[i] & 0xFF;
            }
        }
        return ~sum;
    }

    /** Seconds since 2000-01-01 as the unsigned 32-bit field value (clamped to the field's range). */
    static int timestampOf(Instant instant) {
        long seconds = instant.getEpochSecond() - EPOCH_2000_UNIX_SECONDS;
        if (seconds < 0) {
            return 0;
        }
        return (int) Math.min(seconds, 0xFFFFFFFFL);
    }

    /** The instant of an unsigned 32-bit VHD time stamp. */
    static Instant instantOf(int timestamp) {
        return Instant.ofEpochSecond(EPOCH_2000_UNIX_SECONDS + Integer.toUnsignedLong(timestamp));
    }

    /** Bytes 1:1 as ISO-8859-1 characters, so that {@code "tap\0"} round-trips. */
    static String ascii(byte[] bytes, int offset, int length) {
        return new String(bytes, offset, length, StandardCharsets.ISO_8859_1);
    }

    /** Size in bytes of one block's sector bitmap: one bit a sector, padded to whole sectors. */
    static int bitmapSize(int blockSize) {
        int bitmapBytes = blockSize / SECTOR_SIZE / 8;
        return Math.max(SECTOR_SIZE, (bitmapBytes + SECTOR_SIZE - 1) / SECTOR_SIZE * SECTOR_SIZE);
    }

    /** Rounds {@code value} up to a multiple of 512. */
    static long roundUpToSector(long value) {
        return (value + SECTOR_SIZE - 1) & ~(long) (SECTOR_SIZE - 1);
    }

    /** A printable form of a 4-character code such as a creator application: {@code "tap\0"}. */
    static String printable(String code) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < code.length(); i++) {
            char c = code.charAt(i);
            if (c >= 0x20 && c < 0x7F && c != '\\') {
                out.append(c);
            } else {
                out.append(String.format("\\x%02x", (int) c));
            }
        }
        return out.toString();
    }
}
