package org.thinsr.vhdstream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The checked metadata of a VHD: footer, dynamic header and BAT, read from a {@link VhdInput}
 * (reading order: footer copy, header, BAT; a seekable input also reads the trailing footer
 * first). Everything here was bounded before it was allocated and checked for consistency: both
 * footers identical, checksums, BAT entries inside the file, no two structures overlapping.
 *
 * @param footer the footer (for a stream: the copy at offset 0, checked against the trailing one
 *     at the end)
 * @param header null for a fixed disk
 * @param bat BAT entries (sector numbers or 0xFFFFFFFF); empty for a fixed disk
 * @param blocksByOffset indices of used BAT entries in ascending file order
 * @param leadingData for a stream whose first sector is not a dynamic footer copy (so a fixed
 *     disk): that sector, already consumed; then {@code footer} is null until the end
 */
record VhdImage(
        VhdFooter footer, VhdDynamicHeader header, int[] bat, int[] blocksByOffset, long length, byte[] leadingData) {
    /** Reads and checks a VHD's metadata; for a stream, leaves it positioned after the BAT. */
    static VhdImage read(VhdInput input) throws IOException {
        long length = input.length();
        if (length < VhdFormat.FOOTER_SIZE) {
            throw CorruptImageException.at(0, "image length", length, "at least 512 bytes (a footer)");
        }
        long footerOffset = (length - 1) & ~(long) (VhdFormat.SECTOR_SIZE - 1);
        byte[] first = new byte[VhdFormat.FOOTER_SIZE];
        VhdFooter footer;
        if (input.seekable()) {
            byte[] last = readTrailingFooter(input, footerOffset);
            footer = VhdFooter.read(last, footerOffset);
            if (footer.diskType().orElseThrow() == VhdDiskType.FIXED) {
                return fixed(footer, footerOffset, length);
            }
            input.read(0, ByteBuffer.wrap(first), "footer copy");
            VhdFooter copy = VhdFooter.read(first, 0);
            requireSameFooter(copy, footer, footerOffset);
        } else {
            input.read(0, ByteBuffer.wrap(first), "footer copy");
            VhdFooter copy = tryFooter(first);
            if (copy == null || copy.diskType().orElseThrow() == VhdDiskType.FIXED) {
                // A fixed disk: no copy, its data starts at 0; the trailing footer decides at the end.
                return new VhdImage(null, null, new int[0], new int[0], length, first);
            }
            footer = copy;
        }
        if (footerOffset < VhdFormat.FOOTER_SIZE + VhdFormat.HEADER_SIZE) {
            throw CorruptImageException.at(
                    0, "image length", length, "at least 2048 bytes for a dynamic disk (footer, header, footer)");
        }
        long headerOffset = footer.dataOffset();
        if (headerOffset > footerOffset - VhdFormat.HEADER_SIZE) {
            throw CorruptImageException.at(
                    VhdFooter.DATA_OFFSET,
                    "footer data offset",
                    Long.toUnsignedString(headerOffset),
                    "at most " + (footerOffset - VhdFormat.HEADER_SIZE) + " (header inside the file)");
        }
        byte[] headerBytes = new byte[VhdFormat.HEADER_SIZE];
        input.read(headerOffset, ByteBuffer.wrap(headerBytes), "dynamic header");
        VhdDynamicHeader header = VhdDynamicHeader.read(
                headerBytes, headerOffset, footer.currentSize(), footerOffset + VhdFormat.FOOTER_SIZE);
        long tableOffset = header.tableOffset();
        if (!input.seekable() && tableOffset < headerOffset + VhdFormat.HEADER_SIZE) {
            throw CorruptImageException.at(
                    headerOffset + VhdDynamicHeader.TABLE_OFFSET,
                    "dynamic header table offset (forward-only stream)",
                    tableOffset,
                    "after the header's end " + (headerOffset + VhdFormat.HEADER_SIZE)
                            + "; a BAT before the header can only be read from a seekable file");
        }
        int entries = header.maxTableEntries();
        ByteBuffer batBytes =
                ByteBuffer.allocate(Math.multiplyExact(entries, 4)).order(ByteOrder.BIG_ENDIAN);
        input.read(tableOffset, batBytes, "BAT");
        int[] bat = new int[entries];
        batBytes.flip().asIntBuffer().get(bat);
        int[] blocksByOffset = checkBat(footer, header, bat, headerOffset, footerOffset, input.seekable());
        return new VhdImage(footer, header, bat, blocksByOffset, length, null);
    }

    private static VhdFooter tryFooter(byte[] bytes) {
        if (!VhdFooter.hasCookie(bytes)) {
            return null;
        }
        try {
            return VhdFooter.read(bytes, 0);
        } catch (CorruptImageException e) {
            return null;
        }
    }

    /** Reads the footer at {@code (length - 1) & ~511}; a 511-byte footer (old Virtual PC) is padded. */
    static byte[] readTrailingFooter(VhdInput input, long footerOffset) throws IOException {
        byte[] last = new byte[VhdFormat.FOOTER_SIZE];
        int available = (int) (input.length() - footerOffset);
        if (available < VhdFormat.FOOTER_SIZE - 1) {
            throw CorruptImageException.at(
                    footerOffset,
                    "trailing footer length",
                    available,
                    "512 bytes (or 511), image length a multiple of 512");
        }
        input.read(footerOffset, ByteBuffer.wrap(last, 0, available), "trailing footer");
        return last;
    }

    static VhdImage fixed(VhdFooter footer, long footerOffset, long length) throws CorruptImageException {
        if (footer.currentSize() != footerOffset) {
            throw CorruptImageException.at(
                    footerOffset + VhdFooter.CURRENT_SIZE,
                    "fixed disk current size",
                    footer.currentSize(),
                    footerOffset + " (the bytes before the footer)");
        }
        return new VhdImage(footer, null, new int[0], new int[0], length, null);
    }

    static void requireSameFooter(VhdFooter copy, VhdFooter footer, long footerOffset) throws CorruptImageException {
        byte[] a = copy.encode();
        byte[] b = footer.encode();
        int differs = Arrays.mismatch(a, b);
        if (differs >= 0) {
            throw CorruptImageException.at(
                    differs,
                    "footer copy byte " + differs,
                    String.format("0x%02x", a[differs] & 0xFF),
                    String.format("0x%02x (as in the footer at %d)", b[differs] & 0xFF, footerOffset));
        }
    }

    private record Region(long start, long end, String name) {}

    /**
     * Checks every used BAT entry (inside the disk, the block inside the file, no overlap with
     * metadata or other blocks) and returns the used indices in file order.
     */
    private static int[] checkBat(
            VhdFooter footer,
            VhdDynamicHeader header,
            int[] bat,
            long headerOffset,
            long footerOffset,
            boolean seekable)
            throws CorruptImageException {
        long blockSize = header.blockSize();
        long blockBytes = VhdFormat.bitmapSize(header.blockSize()) + blockSize;
        long neededEntries = (footer.currentSize() + blockSize - 1) / blockSize;
        long tableOffset = header.tableOffset();
        List<Region> regions = new ArrayList<>();
        regions.add(new Region(0, VhdFormat.FOOTER_SIZE, "footer copy"));
        regions.add(new Region(headerOffset, headerOffset + VhdFormat.HEADER_SIZE, "dynamic header"));
        regions.add(new Region(tableOffset, tableOffset + 4L * bat.length, "BAT"));
        for (int i = 0; i < VhdDynamicHeader.LOCATOR_COUNT; i++) {
            VhdParentLocator locator = header.parentLocators().get(i);
            if (locator.isUsed() && locator.dataLength() > 0) {
                regions.add(new Region(
                        locator.dataOffset(),
                        locator.dataOffset() + locator.dataLength(),
                        "parent locator " + i + " data"));
            }
        }
        regions.add(new Region(footerOffset, footerOffset + VhdFormat.FOOTER_SIZE, "trailing footer"));
        int used = 0;
        for (int i = 0; i < bat.length; i++) {
            if (bat[i] == VhdFormat.UNUSED_BAT_ENTRY) {
                continue;
            }
            long batEntryOffset = tableOffset + 4L * i;
            if (i >= neededEntries) {
                throw CorruptImageException.at(
                        batEntryOffset,
                        "BAT entry " + i,
                        Integer.toUnsignedString(bat[i]),
                        "0xFFFFFFFF (block past the virtual size " + footer.currentSize() + ")");
            }
            long start = Integer.toUnsignedLong(bat[i]) * VhdFormat.SECTOR_SIZE;
            if (start + blockBytes > footerOffset) {
                throw CorruptImageException.at(
                        batEntryOffset,
                        "BAT entry " + i,
                        Integer.toUnsignedString(bat[i]) + " (block at byte " + start + ")",
                        "a sector whose block of " + blockBytes + " bytes ends by the footer at " + footerOffset);
            }
            used++;
        }
        int[] blocks = new int[used];
        int next = 0;
        for (int i = 0; i < bat.length; i++) {
            if (bat[i] != VhdFormat.UNUSED_BAT_ENTRY) {
                blocks[next++] = i;
            }
        }
        // Sort by file offset: key = sector << 23 | index (index < 2^23 since entries <= 2040 GiB / 512 KiB).
        long[] keys = new long[used];
        for (int i = 0; i < used; i++) {
            keys[i] = (Integer.toUnsignedLong(bat[blocks[i]]) << 23) | blocks[i];
        }
        Arrays.sort(keys);
        for (int i = 0; i < used; i++) {
            blocks[i] = (int) (keys[i] & ((1 << 23) - 1));
        }
        regions.sort(Comparator.comparingLong(Region::start));
        // Merge the metadata regions with the blocks (both sorted) and check neighbours.
        Region previous = null;
        int metadata = 0;
        int block = 0;
        long metadataEnd = Math.max(headerOffset + VhdFormat.HEADER_SIZE, tableOffset + 4L * bat.length);
        while (metadata < regions.size() || block < used) {
            Region current;
            long blockStart =
                    block < used ? Integer.toUnsignedLong(bat[blocks[block]]) * VhdFormat.SECTOR_SIZE : Long.MAX_VALUE;
            if (metadata < regions.size() && regions.get(metadata).start() <= blockStart) {
                current = regions.get(metadata++);
            } else {
                current = new Region(blockStart, blockStart + blockBytes, "block " + blocks[block]);
                if (!seekable && blockStart < metadataEnd) {
                    throw CorruptImageException.at(
                            tableOffset + 4L * blocks[block],
                            "BAT entry " + blocks[block] + " (forward-only stream)",
                            "block at byte " + blockStart,
                            "a block after the header and BAT (from byte " + metadataEnd
                                    + "); import such a file from seekable storage");
                }
                block++;
            }
            if (previous != null && current.start() < previous.end()) {
                throw CorruptImageException.at(
                        current.start(),
                        current.name(),
                        "[" + current.start() + ", " + current.end() + ") overlapping " + previous.name(),
                        "no overlap with [" + previous.start() + ", " + previous.end() + ")");
            }
            previous = current.end() >= (previous == null ? 0 : previous.end()) ? current : previous;
        }
        return blocks;
    }

    VhdDiskType diskType() {
        return footer.diskType().orElseThrow();
    }

    long virtualSize() {
        return footer.currentSize();
    }
}
