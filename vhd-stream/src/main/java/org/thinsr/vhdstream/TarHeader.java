package org.thinsr.vhdstream;

import java.nio.charset.StandardCharsets;

/**
 * One POSIX ustar header block (POSIX.1-1988 {@code ustar}, as in IEEE Std 1003.1 "pax" / "ustar
 * Interchange Format"), written deterministically and parsed strictly.
 *
 * <pre>
 * offset size field      written as
 *      0  100 name       ASCII, NUL padded
 *    100    8 mode       "0000644\0"
 *    108    8 uid        "0000000\0"
 *    116    8 gid        "0000000\0"
 *    124   12 size       11 octal digits + NUL
 *    136   12 mtime      11 octal digits + NUL
 *    148    8 chksum     6 octal digits + NUL + space; sum of all 512 bytes with this field as spaces
 *    156    1 typeflag   '0' (regular file)
 *    157  100 linkname   NUL
 *    257    6 magic      "ustar\0"   (GNU tar writes "ustar " + " \0" over magic+version: accepted)
 *    263    2 version    "00"
 *    265   32 uname      NUL
 *    297   32 gname      NUL
 *    329    8 devmajor   "0000000\0"
 *    337    8 devminor   "0000000\0"
 *    345  155 prefix     NUL (on read: "prefix/name" when non-empty)
 *    500   12 padding    NUL
 * </pre>
 *
 * <p>Reading accepts only regular files ({@code '0'} or NUL type) with octal sizes; PAX extended
 * headers, GNU long names and base-256 sizes are rejected with a precise message, since no XVA
 * writer produces them and they would need unbounded buffering.
 */
final class TarHeader {
    static final int BLOCK = 512;
    static final int NAME_LENGTH = 100;
    static final long MAX_OCTAL_SIZE = 077777777777L; // 11 octal digits

    private TarHeader() {}

    /** Writes the header of a regular file into {@code block[offset, offset + 512)}. */
    static void write(byte[] block, int offset, String name, long size, long mtimeSeconds) {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        if (nameBytes.length > NAME_LENGTH
                || !StandardCharsets.US_ASCII.newEncoder().canEncode(name)) {
            throw new IllegalArgumentException("tar entry name must be at most 100 ASCII bytes: " + name);
        }
        if (size < 0 || size > MAX_OCTAL_SIZE) {
            throw new IllegalArgumentException("tar entry size out of range: " + size);
        }
        java.util.Arrays.fill(block, offset, offset + BLOCK, (byte) 0);
        System.arraycopy(nameBytes, 0, block, offset, nameBytes.length);
        putAscii(block, offset + 100, "0000644\0");
        putAscii(block, offset + 108, "0000000\0");
        putAscii(block, offset + 116, "0000000\0");
        putOctal(block, offset + 124, 11, size);
        putOctal(block, offset + 136, 11, Math.min(Math.max(mtimeSeconds, 0), MAX_OCTAL_SIZE));
        block[offset + 156] = '0';
        putAscii(block, offset + 257, "ustar\0" + "00");
        putAscii(block, offset + 329, "0000000\0");
        putAscii(block, offset + 337, "0000000\0");
        putAscii(block, offset + 148, "        ");
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += block[offset + i] & 0xff;
        }
        putOctal(block, offset + 148, 6, sum);
        block[offset + 155] = ' ';
    }

    /** A parsed regular-file header. */
    record Entry(String name, long size) {
        Entry {
            if (size < 0) {
                throw new IllegalArgumentException("size is negative: " + size);
            }
        }
    }

    /** Whether the block is all zeros (end-of-archive marker). */
    static boolean isZeroBlock(byte[] block) {
        return RawZeroScan.isAllZero(block, 0, BLOCK);
    }

    /**
     * Parses {@code block[0, 512)} read at stream offset {@code at}.
     *
     * @throws CorruptImageException naming the field, its offset, actual and expected values
     */
    static Entry parse(byte[] block, long at) throws CorruptImageException {
        long stored = parseOctal(block, 148, 8, at, "tar header checksum");
        long unsigned = 0;
        long signed = 0;
        for (int i = 0; i < BLOCK; i++) {
            byte b = (i >= 148 && i < 156) ? (byte) ' ' : block[i];
            unsigned += b & 0xff;
            signed += b;
        }
        if (stored != unsigned && stored != signed) {
            throw CorruptImageException.at(
                    at + 148,
                    "tar header checksum",
                    "0" + Long.toOctalString(stored),
                    "0" + Long.toOctalString(unsigned));
        }
        boolean posix = block[257] == 'u'
                && block[258] == 's'
                && block[259] == 't'
                && block[260] == 'a'
                && block[261] == 'r'
                && ((block[262] == 0 && block[263] == '0' && block[264] == '0')
                        || (block[262] == ' ' && block[263] == ' ' && block[264] == 0));
        if (!posix) {
            throw CorruptImageException.at(
                    at + 257, "tar magic", quote(block, 257, 8), "\"ustar\\000\" \"00\" or GNU \"ustar  \\000\"");
        }
        byte type = block[156];
        if (type != '0' && type != 0) {
            throw CorruptImageException.at(
                    at + 156,
                    "tar entry type",
                    type >= 0x20 && type < 0x7f ? "'" + (char) type + "'" : "0x" + Integer.toHexString(type & 0xff),
                    "'0' (regular file; PAX, GNU long-name and other entry types are not part of an XVA disk)");
        }
        long size = parseOctal(block, 124, 12, at, "tar entry size");
        String name = cString(block, 0, NAME_LENGTH, at, "tar entry name");
        String prefix = cString(block, 345, 155, at, "tar name prefix");
        if (!prefix.isEmpty()) {
            name = prefix + "/" + name;
        }
        return new Entry(name, size);
    }

    private static long parseOctal(byte[] block, int offset, int length, long at, String field)
            throws CorruptImageException {
        int i = offset;
        int end = offset + length;
        while (i < end && block[i] == ' ') {
            i++;
        }
        if (i < end && (block[i] & 0x80) != 0) {
            throw CorruptImageException.at(at + offset, field, "base-256 value", "octal digits");
        }
        long value = 0;
        int digits = 0;
        while (i < end && block[i] >= '0' && block[i] <= '7') {
            value = value * 8 + (block[i] - '0');
            digits++;
            i++;
        }
        boolean terminated = i == end || block[i] == 0 || block[i] == ' ';
        if (digits == 0 || !terminated || digits > 11) {
            throw CorruptImageException.at(at + offset, field, quote(block, offset, length), "octal digits");
        }
        return value;
    }

    private static String cString(byte[] block, int offset, int length, long at, String field)
            throws CorruptImageException {
        int end = offset;
        while (end < offset + length && block[end] != 0) {
            byte b = block[end];
            if (b < 0x20 || b >= 0x7f) {
                throw CorruptImageException.at(
                        at + end, field + " byte", "0x" + Integer.toHexString(b & 0xff), "printable ASCII");
            }
            end++;
        }
        return new String(block, offset, end - offset, StandardCharsets.US_ASCII);
    }

    private static void putAscii(byte[] block, int offset, String text) {
        for (int i = 0; i < text.length(); i++) {
            block[offset + i] = (byte) text.charAt(i);
        }
    }

    /** {@code digits} octal digits, zero-padded, then a NUL. */
    private static void putOctal(byte[] block, int offset, int digits, long value) {
        long rest = value;
        for (int i = digits - 1; i >= 0; i--) {
            block[offset + i] = (byte) ('0' + (rest & 7));
            rest >>>= 3;
        }
        block[offset + digits] = 0;
    }

    private static String quote(byte[] block, int offset, int length) {
        StringBuilder text = new StringBuilder("\"");
        for (int i = offset; i < offset + length; i++) {
            int b = block[i] & 0xff;
            if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
                text.append((char) b);
            } else {
                text.append('\\').append(String.format("%03o", b));
            }
        }
        return text.append('"').toString();
    }
}
